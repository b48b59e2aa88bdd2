package smol

import (
	"errors"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolgo/smol/clock"
)

// countWaker counts its wakes.
type countWaker struct{ n atomic.Int32 }

func (c *countWaker) Wake() { c.n.Add(1) }

// epoch is where the tests' manual clocks start.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// manualCx returns a context on a driver of its own, on a fresh manual
// clock, waking w.
func manualCx(w Waker) (*Context, *clock.Manual) {
	clk := clock.NewManual(epoch)
	return &Context{waker: w, drv: newDriver(&settings{clock: clk, budget: unlimited}), budget: unlimited}, clk
}

// tickAll runs ex until nothing is queued.
func tickAll(ex *LocalExecutor) {
	for ex.TryTick() {
	}
}

func TestTimersFireInDeadlineOrder(t *testing.T) {
	clk := clock.NewManual(epoch)
	ex := NewLocalExecutor(WithClock(clk))
	defer ex.Close()
	// Distinct deadlines in a random order.
	perm := rand.New(rand.NewPCG(1, 2)).Perm(200)
	var order []int
	ds := make([]time.Duration, len(perm))
	var tasks []*Task[struct{}]
	for i, k := range perm {
		ds[i] = time.Second + time.Duration(k)*time.Millisecond
		tasks = append(tasks, SpawnOn(ex, Map(At(epoch.Add(ds[i])), func(time.Time) struct{} {
			order = append(order, i)
			return struct{}{}
		})))
	}
	tickAll(ex)
	if len(order) != 0 {
		t.Fatalf("%d timers fired before the clock moved", len(order))
	}
	// Step the clock a millisecond at a time: each step fires exactly the
	// timers due by then.
	for step := time.Duration(0); step <= slices.Max(ds); step += time.Millisecond {
		clk.AdvanceTo(epoch.Add(step))
		tickAll(ex)
		for _, i := range order {
			if ds[i] > step {
				t.Fatalf("timer %d (due at %v) fired at %v", i, ds[i], step)
			}
		}
	}
	if len(order) != len(perm) || !slices.IsSortedFunc(order, func(a, b int) int { return int(ds[a] - ds[b]) }) {
		t.Fatalf("timers fired out of deadline order: %v", order)
	}
	for _, task := range tasks {
		if !task.IsFinished() {
			t.Fatal("a timer task is still pending")
		}
	}
}

func TestTimerNeverEarlyOnRealClock(t *testing.T) {
	for _, d := range []time.Duration{time.Microsecond, 500 * time.Microsecond, 3 * time.Millisecond} {
		start := time.Now()
		fired, err := BlockOn(After(d))
		if el := time.Since(start); err != nil || el < d {
			t.Fatalf("After(%v) ready after %v (%v)", d, el, err)
		}
		if fired.Before(start.Add(d - time.Millisecond)) {
			t.Fatalf("After(%v) reported deadline %v, started %v", d, fired, start)
		}
	}
}

func TestTimerCountsFromFirstPoll(t *testing.T) {
	var w countWaker
	cx, clk := manualCx(&w)
	tm := Sleep(time.Second) // made outside any poll
	clk.Advance(time.Hour)   // time passes before anyone awaits it
	if _, ok, _ := tm.Poll(cx); ok {
		t.Fatal("ready at its first poll: it must count from there")
	}
	clk.Advance(999 * time.Millisecond)
	if w.n.Load() != 0 {
		t.Fatal("woken early")
	}
	clk.Advance(time.Millisecond)
	if w.n.Load() != 1 {
		t.Fatalf("%d wakes at the deadline, want 1", w.n.Load())
	}
	v, ok, err := tm.Poll(cx)
	if !ok || err != nil || !v.Equal(epoch.Add(time.Hour+time.Second)) {
		t.Fatalf("got %v %v %v", v, ok, err)
	}
	// At measures against the driver's clock, not the machine's.
	at := At(epoch.Add(2 * time.Hour))
	if _, ok, _ := at.Poll(cx); ok {
		t.Fatal("At fired early")
	}
	clk.AdvanceTo(epoch.Add(2 * time.Hour))
	if _, ok, _ := at.Poll(cx); !ok {
		t.Fatal("At did not fire at its time")
	}
}

func TestManyTimersCanceled(t *testing.T) {
	const n = 100_000
	var w countWaker
	cx, _ := manualCx(&w)
	d := cx.drv
	ts := make([]*Timer, n)
	for i := range ts {
		ts[i] = After(time.Hour + time.Duration(i))
		if _, ok, _ := ts[i].Poll(cx); ok {
			t.Fatal("an hour-long timer fired")
		}
	}
	if got := len(d.timers); got != n {
		t.Fatalf("%d timers registered, want %d", got, n)
	}
	// Stop in a scrambled order, which exercises removal from the middle.
	for _, i := range rand.New(rand.NewPCG(3, 4)).Perm(n) {
		if !ts[i].Stop() {
			t.Fatal("Stop of an armed timer reported false")
		}
	}
	if got := len(d.timers); got != 0 || w.n.Load() != 0 {
		t.Fatalf("after Stop: %d timers left, %d wakes", got, w.n.Load())
	}
	if ts[0].Stop() {
		t.Fatal("second Stop reported an armed timer")
	}
}

func TestTimerHeapInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var h timerHeap
	var live []*Timer
	for range 20_000 {
		switch op := rng.IntN(3); {
		case op == 0 || len(live) == 0:
			tm := &Timer{when: rng.Int64N(1000), idx: -1}
			h.push(tm)
			live = append(live, tm)
		case op == 1:
			i := rng.IntN(len(live))
			h.remove(live[i])
			live = slices.Delete(live, i, i+1)
		default:
			tm := live[rng.IntN(len(live))]
			tm.when = rng.Int64N(1000)
			h.fix(tm.idx)
		}
		for i := 1; i < len(h); i++ {
			if h[(i-1)/2].when > h[i].when || h[i].idx != i {
				t.Fatalf("heap invariant broken at %d", i)
			}
		}
	}
}

func TestTimeout(t *testing.T) {
	clk := clock.NewManual(epoch)
	ex := NewLocalExecutor(WithClock(clk))
	defer ex.Close()
	never := SpawnOn(ex, Timeout(Never[int](), 5*time.Second))
	ready := SpawnOn(ex, Timeout(Ready(7), time.Hour))
	dl := SpawnOn(ex, Deadline(Never[int](), epoch.Add(time.Second)))
	tickAll(ex)
	if never.IsFinished() || dl.IsFinished() {
		t.Fatal("a timeout fired before its time")
	}
	clk.Advance(5 * time.Second)
	tickAll(ex)
	cx := NewContext(NoopWaker)
	v, ok, err := never.Poll(cx)
	if !ok || v != 0 || !errors.Is(err, ErrTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Timeout of Never: %v %v %v, want ErrTimeout", v, ok, err)
	}
	var te interface{ Timeout() bool }
	if !errors.As(err, &te) || !te.Timeout() {
		t.Fatal("ErrTimeout does not report Timeout()")
	}
	if v, ok, err := ready.Poll(cx); !ok || v != 7 || err != nil {
		t.Fatalf("Timeout of Ready(7): %v %v %v", v, ok, err)
	}
	if _, ok, err := dl.Poll(cx); !ok || !errors.Is(err, ErrTimeout) {
		t.Fatalf("Deadline: %v %v", ok, err)
	}
	// A timeout passes its future's own error through, without nesting.
	boom := errors.New("boom")
	if _, err := BlockOn(Timeout(Failed[int](boom), time.Hour)); err != boom {
		t.Fatalf("Timeout of a failing future: %v, want boom", err)
	}
}

func TestIntervalSkipsMissedTicks(t *testing.T) {
	const p = 10 * time.Second
	var w countWaker
	cx, clk := manualCx(&w)
	iv := Interval(p)
	tick := func() (time.Duration, bool) {
		v, ok, _ := iv.Poll(cx)
		return v.Sub(epoch), ok
	}
	if _, ok := tick(); ok {
		t.Fatal("ready before the first tick")
	}
	clk.Advance(p)
	if v, ok := tick(); !ok || v != p {
		t.Fatalf("first tick: %v %v", v, ok)
	}
	if _, ok := tick(); ok {
		t.Fatal("a tick was consumed twice")
	}
	// Come back late, past ticks 20, 30, 40 and 50: one tick, valued at the
	// latest (50), and the next stays on the grid (60), with no burst.
	clk.AdvanceTo(epoch.Add(57 * time.Second))
	if v, ok := tick(); !ok || v != 5*p {
		t.Fatalf("late tick: %v %v, want 50s", v, ok)
	}
	if _, ok := tick(); ok {
		t.Fatal("missed ticks were replayed")
	}
	clk.AdvanceTo(epoch.Add(6 * p))
	if v, ok := tick(); !ok || v != 6*p {
		t.Fatalf("next tick: %v %v, want 60s", v, ok)
	}
}

func TestIntervalOnRealClock(t *testing.T) {
	const p = 2 * time.Millisecond
	iv := Interval(p)
	defer iv.Stop()
	first, _ := BlockOn(iv)
	second, _ := BlockOn(iv)
	if d := second.Sub(first); d < p || d%p != 0 {
		t.Fatalf("ticks %v apart, want a positive multiple of %v", d, p)
	}
}

func TestTimerResetDoesNotAllocate(t *testing.T) {
	cx, clk := manualCx(NoopWaker)
	tm := After(time.Hour)
	tm.Poll(cx)
	allocs := testing.AllocsPerRun(1000, func() {
		tm.Reset(time.Hour)
		tm.Poll(cx)
	})
	if allocs != 0 {
		t.Fatalf("Reset+Poll allocates %v times", allocs)
	}
	tm.Reset(time.Millisecond)
	clk.Advance(time.Millisecond)
	if _, ok, _ := tm.Poll(cx); !ok {
		t.Fatal("reset timer did not fire")
	}
	if tm.Stop() {
		t.Fatal("a fired one-shot timer is still armed")
	}
}

func TestStoppedTimerDoesNotWake(t *testing.T) {
	var w countWaker
	cx, clk := manualCx(&w)
	tm := After(3 * time.Millisecond)
	if _, ok, _ := tm.Poll(cx); ok {
		t.Fatal("fired at once")
	}
	if !tm.Stop() {
		t.Fatal("Stop of an armed timer reported false")
	}
	clk.Advance(time.Hour)
	if w.n.Load() != 0 {
		t.Fatal("a stopped timer woke its task")
	}
	if tm.Stop() {
		t.Fatal("a stopped timer is still armed")
	}
}

// TestStopThenResetWakesAwaiter: a task awaiting a timer that is stopped
// and then reset is woken at the new deadline (the Reset doc promises it
// fires "whether or not it had fired or was stopped").
func TestStopThenResetWakesAwaiter(t *testing.T) {
	clk := clock.NewManual(epoch)
	ex := NewLocalExecutor(WithClock(clk))
	defer ex.Close()
	tm := After(time.Hour)
	task := SpawnOn(ex, tm)
	tickAll(ex) // the task waits on the timer
	tm.Stop()
	clk.Advance(2 * time.Hour)
	tickAll(ex)
	if task.IsFinished() {
		t.Fatal("a stopped timer fired")
	}
	tm.Reset(time.Second)
	clk.Advance(time.Second)
	tickAll(ex)
	if !task.IsFinished() {
		t.Fatal("the task awaiting a stopped, then reset, timer was never woken")
	}
	// Reset to a time already past wakes the waiter at once.
	tm2 := After(time.Hour)
	task2 := SpawnOn(ex, tm2)
	tickAll(ex)
	tm2.Stop()
	tm2.ResetAt(epoch) // long past
	tickAll(ex)
	if !task2.IsFinished() {
		t.Fatal("reset to a past time did not wake the waiter")
	}
}

// TestTwoExecutorsOwnClocks runs two executors in one process, one on a
// manual clock and one on real time, each with a timer: each fires by its
// own clock.
func TestTwoExecutorsOwnClocks(t *testing.T) {
	clk := clock.NewManual(epoch)
	manual := NewLocalExecutor(WithClock(clk))
	defer manual.Close()
	real := NewLocalExecutor()
	defer real.Close()

	slow := SpawnOn(manual, Sleep(time.Hour)) // an hour of the manual clock
	tickAll(manual)
	start := time.Now()
	v, err := Run(real, Sleep(5*time.Millisecond)) // 5ms of real time
	if err != nil || time.Since(start) < 5*time.Millisecond || v.Before(start) {
		t.Fatalf("the real-time timer: %v %v after %v", v, err, time.Since(start))
	}
	tickAll(manual)
	if slow.IsFinished() {
		t.Fatal("the manual-clock timer fired without its clock moving")
	}
	clk.Advance(time.Hour)
	tickAll(manual)
	got, ok, err := slow.Poll(NewContext(NoopWaker))
	if !ok || err != nil || !got.Equal(epoch.Add(time.Hour)) {
		t.Fatalf("the manual-clock timer: %v %v %v, want %v", got, ok, err, epoch.Add(time.Hour))
	}
	if manual.Driver().Now() != epoch.Add(time.Hour) || real.Driver().Clock() != clock.Real {
		t.Fatal("the drivers do not report their own clocks")
	}
}

func TestTimerString(t *testing.T) {
	cx, _ := manualCx(NoopWaker)
	tm := After(90 * time.Second)
	if s := tm.String(); !strings.Contains(s, "never polled") {
		t.Fatalf("unpolled timer: %q", s)
	}
	tm.Poll(cx)
	if s := tm.String(); !strings.Contains(s, "00:01:30") || !strings.Contains(s, "in 1m30s") {
		t.Fatalf("armed timer: %q", s)
	}
	tm.Stop()
	if s := tm.String(); !strings.Contains(s, "stopped") {
		t.Fatalf("stopped timer: %q", s)
	}
}

// TestTimerResetRacesFirstPoll binds a timer on one goroutine while
// another resets and stops it: under -race this checks the handover from
// the timer's own lock to its driver's.
func TestTimerResetRacesFirstPoll(t *testing.T) {
	for range 200 {
		cx, clk := manualCx(NoopWaker)
		tm := After(time.Hour)
		done := make(chan struct{})
		go func() {
			tm.Reset(time.Minute)
			tm.Stop()
			tm.Reset(time.Second)
			close(done)
		}()
		tm.Poll(cx)
		<-done
		clk.Advance(time.Hour + time.Minute)
		if _, ok, _ := tm.Poll(cx); !ok {
			t.Fatal("the timer did not fire after its latest reset")
		}
	}
}

// BenchmarkTimerInsertCancel registers and cancels one timer while 1M others
// are pending: both are O(log n).
func BenchmarkTimerInsertCancel(b *testing.B) {
	for _, present := range []int{0, 1_000_000} {
		b.Run(map[int]string{0: "empty", 1_000_000: "1M-present"}[present], func(b *testing.B) {
			cx, _ := manualCx(NoopWaker)
			others := make([]*Timer, present)
			for i := range others {
				others[i] = After(time.Hour + time.Duration(i))
				others[i].Poll(cx)
			}
			tm := After(time.Hour)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tm.Reset(30 * time.Minute)
				tm.Poll(cx)
				tm.Stop()
			}
		})
	}
}
