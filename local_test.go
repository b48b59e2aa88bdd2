package smol_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/clock"
)

// A script is a task written as a list of steps; a step returns false to
// report pending (having arranged a wake) and is called again later.
type step func(cx *smol.Context) bool

func script(steps ...step) smol.Future[struct{}] {
	i := 0
	return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for ; i < len(steps); i++ {
			if !steps[i](cx) {
				return struct{}{}, false, nil
			}
		}
		return struct{}{}, true, nil
	})
}

func await[T any](f smol.Future[T]) step {
	return func(cx *smol.Context) bool { _, ok, _ := f.Poll(cx); return ok }
}

func yieldStep() step { return await(smol.YieldNow()) }

func doStep(fn func()) step { return func(*smol.Context) bool { fn(); return true } }

// fifoProgram spawns tasks that log, yield, wake each other and spawn more,
// and returns the log once the executor is idle.
func fifoProgram(t *testing.T) []string {
	var log []string
	logStep := func(s string) step { return doStep(func() { log = append(log, s) }) }
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sigA, sigB := newSignal[int](), newSignal[int]()
	smol.SpawnOn(ex, script(logStep("A0"), yieldStep(), logStep("A1"),
		doStep(func() { sigB.Fire(0) }), await(sigA), logStep("A2")))
	smol.SpawnOn(ex, script(logStep("B0"), await(sigB), logStep("B1"),
		doStep(func() { smol.SpawnOn(ex, script(logStep("D"))) }), yieldStep(),
		logStep("B2"), doStep(func() { sigA.Fire(0) })))
	smol.SpawnOn(ex, script(logStep("C0"), yieldStep(), logStep("C1"), yieldStep(), logStep("C2")))
	for ex.TryTick() {
	}
	return log
}

func TestLocalExecutorFIFO(t *testing.T) {
	// The queues after each step: the tasks woken by others, first woken
	// first run, and the busy ones (a task that yields is busy), which get
	// one poll after each batch of the others (see core.next):
	//   A0 yields                      woken [B C]  busy [A]
	//   B0 waits on sigB               woken [C]    busy [A]
	//   C0 yields                      woken []     busy [A C]
	//   A1 wakes B, waits on sigA      woken [B]    busy [C]
	//   B1 spawns D, yields            woken [D]    busy [C B] (C's turn came with B's batch)
	//   C1 yields                      woken [D]    busy [B C]
	//   D  done                        woken []     busy [B C]
	//   B2 wakes A                     woken [A]    busy [C]
	//   A2 done                        woken []     busy [C]
	//   C2 done
	want := []string{"A0", "B0", "C0", "A1", "B1", "C1", "D", "B2", "A2", "C2"}
	first := fifoProgram(t)
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("order %v, want %v", first, want)
	}
	for range 3 {
		if again := fifoProgram(t); !reflect.DeepEqual(again, first) {
			t.Fatalf("a second run gave %v, the first %v", again, first)
		}
	}
}

func TestLocalExecutorWakeOrderFromOutside(t *testing.T) {
	// Wakes from outside the executor also run in the order they came.
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var log []int
	sigs := make([]*signal[int], 5)
	for i := range sigs {
		sigs[i] = newSignal[int]()
		smol.SpawnOn(ex, smol.Map(sigs[i], func(n int) int { log = append(log, n); return n }))
	}
	for ex.TryTick() {
	}
	for _, i := range []int{3, 1, 4, 0, 2} {
		sigs[i].Fire(i)
	}
	for ex.TryTick() {
	}
	if want := []int{3, 1, 4, 0, 2}; !reflect.DeepEqual(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}

func TestTryTick(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	if ex.TryTick() {
		t.Fatal("TryTick on an empty executor ran something")
	}
	a := smol.SpawnOn(ex, yields(1, "a"))
	b := smol.SpawnOn(ex, smol.Ready("b"))
	if !ex.TryTick() || a.IsFinished() {
		t.Fatal("first tick: a should have run and yielded")
	}
	if !ex.TryTick() || !b.IsFinished() {
		t.Fatal("second tick: b should have finished")
	}
	if !ex.TryTick() || !a.IsFinished() {
		t.Fatal("third tick: a should have finished")
	}
	if ex.TryTick() {
		t.Fatal("TryTick ran something after all tasks finished")
	}
}

func TestTickWaitsForWork(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, sig)
	if err := ex.Tick(); err != nil {
		t.Fatal(err)
	}
	// Tick parks until the wake from another goroutine queues the task.
	done := make(chan error)
	go func() { done <- ex.Tick() }()
	sig.Fire(8)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := task.Poll(noop); !ok || v != 8 {
		t.Fatalf("got (%d, %v)", v, ok)
	}
	// A Tick parked on an empty executor returns ErrClosed on Close.
	go func() { done <- ex.Tick() }()
	ex.Close()
	if err := <-done; err != smol.ErrClosed {
		t.Fatalf("Tick after Close: %v, want ErrClosed", err)
	}
	if err := ex.Tick(); err != smol.ErrClosed {
		t.Fatalf("Tick on a closed executor: %v", err)
	}
}

func TestRunReturnsMainValue(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// Tasks still pending when main is ready stay on the executor.
	sig := newSignal[int]()
	pending := smol.SpawnOn(ex, sig)
	if got, err := smol.Run(ex, yields(3, "main")); err != nil || got != "main" {
		t.Fatalf("Run: (%q, %v)", got, err)
	}
	sig.Fire(2)
	if got, err := smol.Run(ex, pending); err != nil || got != 2 {
		t.Fatalf("second Run: (%d, %v)", got, err)
	}
}

func TestRunMainWokenFromOutside(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sig := newSignal[string]()
	go sig.Fire("outside")
	if got, err := smol.Run(ex, sig); err != nil || got != "outside" {
		t.Fatalf("Run: (%q, %v)", got, err)
	}
}

func TestYieldNowInRunMainLetsTasksRun(t *testing.T) {
	// The main future of Run yields: every task that was runnable at that
	// moment runs before main resumes, as YieldNow promises.
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var ran atomic.Int32
	for range 3 {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) { ran.Add(1); return 0, true, nil }))
	}
	got, err := smol.Run(ex, smol.Then(smol.YieldNow(), func(struct{}) smol.Future[int32] {
		return smol.Ready(ran.Load())
	}))
	if err != nil || got != 3 {
		t.Fatalf("main resumed after %d of 3 runnable tasks ran (err %v)", got, err)
	}
}

const misuse = "LocalExecutor"

func TestLocalExecutorReentrantTickPanics(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// A task that drives its own executor from inside its poll.
	task := smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
		ex.TryTick()
		return 0, true, nil
	}))
	for ex.TryTick() {
	}
	v := mustPanic(t, func() { task.Poll(noop) })
	pe, ok := v.(*smol.PanicError)
	if !ok || !strings.Contains(fmt.Sprint(pe.Value), misuse) {
		t.Fatalf("re-entrant TryTick: task panicked with %#v", v)
	}
	// Run inside a task is caught the same way.
	task2 := smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
		smol.Run(ex, smol.Ready(0))
		return 0, true, nil
	}))
	for ex.TryTick() {
	}
	if pe, ok := mustPanic(t, func() { task2.Poll(noop) }).(*smol.PanicError); !ok || !strings.Contains(fmt.Sprint(pe.Value), misuse) {
		t.Fatal("re-entrant Run not detected")
	}
	// The executor works normally afterwards.
	if got, err := smol.Run(ex, yields(1, 1)); err != nil || got != 1 {
		t.Fatalf("Run after misuse: (%d, %v)", got, err)
	}
}

func TestLocalExecutorTwoGoroutinesPanics(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
		close(entered)
		<-release
		return 0, true, nil
	}))
	done := make(chan error)
	go func() {
		_, err := smol.Run(ex, smol.YieldNow())
		done <- err
	}()
	// While a task of ex is being polled by Run on the other goroutine,
	// driving ex from this one is detected.
	<-entered
	for name, drive := range map[string]func(){
		"TryTick": func() { ex.TryTick() },
		"Tick":    func() { ex.Tick() },
		"Run":     func() { smol.Run(ex, smol.Ready(0)) },
	} {
		v := mustPanic(t, drive)
		if !strings.Contains(fmt.Sprint(v), misuse) {
			t.Errorf("%s from a second goroutine panicked with %v", name, v)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Spawning and waking from another goroutine is allowed.
	if ex.TryTick() {
		t.Fatal("unexpected task left")
	}
}

func TestLocalExecutorClose(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	var polls atomic.Int32
	idleF, idleDropped := dropTracker(&polls)
	idle := smol.SpawnOn(ex, idleF)
	ex.TryTick()
	queuedF, queuedDropped := dropTracker(&polls)
	queued := smol.SpawnOn(ex, queuedF)
	// An awaiter on another executor, woken by the Close.
	other := smol.NewLocalExecutor()
	defer other.Close()
	awaiter := smol.SpawnOn(other, idle)
	other.TryTick()

	ex.Close()
	for name, task := range map[string]*smol.Task[int]{"idle": idle, "queued": queued} {
		if !task.IsFinished() {
			t.Errorf("%s task not finished after Close", name)
		} else if v, err := outcome(t, task); err != smol.ErrClosed || v != 0 {
			t.Errorf("%s task after Close: (%d, %v), want ErrClosed", name, v, err)
		}
	}
	if !idleDropped() || !queuedDropped() {
		t.Error("Close did not drop the futures of its tasks")
	}
	if polls.Load() != 1 {
		t.Errorf("futures polled %d times, want 1", polls.Load())
	}
	if !other.TryTick() || !awaiter.IsFinished() {
		t.Fatal("the awaiter of a task canceled by Close was not woken")
	}
	// The awaiter, on an open executor, fails with the awaited task's error.
	if v, err := outcome(t, awaiter); err != smol.ErrClosed || v != 0 {
		t.Fatalf("awaiter got (%d, %v), want ErrClosed", v, err)
	}
	// Later spawns and runs are refused.
	late := smol.SpawnOn(ex, smol.Ready(1))
	if !late.IsFinished() {
		t.Fatal("a task spawned after Close is not finished")
	}
	if v, ok, err := late.Poll(noop); !ok || v != 0 || err != smol.ErrClosed {
		t.Fatalf("handle of a refused spawn: (%d, %v, %v), want ErrClosed", v, ok, err)
	}
	if _, err := smol.Run(ex, smol.Ready(1)); err != smol.ErrClosed {
		t.Fatalf("Run after Close: %v", err)
	}
	if ex.TryTick() {
		t.Fatal("TryTick ran a task after Close")
	}
	ex.Close() // twice is harmless
}

func TestLocalExecutorCloseEndsRun(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, sig)
	done := runIn(ex, smol.Never[int]())
	waitFor(t, "the task's first poll", func() bool { return sig.Polls() == 1 })
	ex.Close()
	if err := <-done; err != smol.ErrClosed {
		t.Fatalf("Run on a closed executor: %v, want ErrClosed", err)
	}
	if err := taskErr(t, task); err != smol.ErrClosed {
		t.Fatalf("task: %v", err)
	}
}

func TestLocalExecutorCloseFromTask(t *testing.T) {
	ex := smol.NewLocalExecutor()
	pending := smol.SpawnOn(ex, smol.Never[int]())
	var self, after *smol.Task[int]
	polls := 0
	self = smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		// Wait once first, so that Close finds the task in its registry
		// and cancels it during the poll below.
		if polls++; polls == 1 {
			cx.Waker().Wake()
			return 0, false, nil
		}
		// A task queued at the Close is dropped unpolled.
		after = smol.SpawnOn(ex, smol.Ready(1))
		ex.Close()
		// Canceled by the Close, but this poll is still running: the task
		// is not finished until it returns.
		if self.IsFinished() {
			t.Error("the closing task is finished during its own poll")
		}
		return 5, true, nil
	}))
	_, err := smol.Run(ex, smol.Never[int]())
	if !errors.Is(err, smol.ErrClosed) {
		t.Fatalf("Run: %v, want ErrClosed", err)
	}
	for name, task := range map[string]*smol.Task[int]{"pending": pending, "queued after": after} {
		if err := taskErr(t, task); err != smol.ErrClosed {
			t.Errorf("%s: %v, want ErrClosed", name, err)
		}
	}
	// The closer's poll returned ready after the Close: its output is kept.
	if v, err := outcome(t, self); err != nil || v != 5 {
		t.Errorf("closer: (%d, %v), want (5, nil)", v, err)
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	if smol.ErrCanceled == smol.ErrClosed || smol.ErrCanceled.Error() == "" || smol.ErrClosed.Error() == "" {
		t.Fatal("ErrCanceled and ErrClosed must be distinct, non-empty errors")
	}
}

// drainer receives from rx, as many values in one poll as it may, until it
// has want of them.
type drainer struct {
	rx        *channel.Receiver[int]
	f         channel.RecvFuture[int]
	got, want int
	polls     int
}

func newDrainer(rx *channel.Receiver[int], want int) *drainer {
	d := &drainer{rx: rx, want: want}
	d.f.Reset(rx)
	return d
}

func (d *drainer) Poll(cx *smol.Context) (int, bool, error) {
	d.polls++
	for d.got < d.want {
		_, ok, err := d.f.Poll(cx)
		if err != nil {
			return d.got, true, err
		}
		if !ok {
			return 0, false, nil
		}
		d.got++
		d.f.Reset(d.rx)
	}
	return d.got, true, nil
}

// refiller sends to tx, as many values in one poll as it may, until done
// reports true.
type refiller struct {
	tx   *channel.Sender[int]
	f    channel.SendFuture[int]
	n    int
	done func() bool
}

func (r *refiller) Poll(cx *smol.Context) (struct{}, bool, error) {
	for !r.done() {
		_, ok, err := r.f.Poll(cx)
		if err != nil {
			return struct{}{}, true, err
		}
		if !ok {
			return struct{}{}, false, nil
		}
		r.n++
		r.f.Reset(r.tx, r.n)
	}
	r.f.Discard()
	return struct{}{}, true, nil
}

// TestBudgetMakesBusyTaskYield: a task receiving from a channel that never
// runs dry (pre-filled, and refilled by a producer task) would never return
// pending on its own. The cooperative budget makes its receive report
// pending after budget receives in one poll, so another task on the same
// LocalExecutor, which only counts its polls by awaiting YieldNow in a
// loop, is polled at least once every budget receives.
func TestBudgetMakesBusyTaskYield(t *testing.T) {
	for _, budget := range []int{smol.DefaultBudget, 16} {
		t.Run(fmt.Sprint("budget=", budget), func(t *testing.T) {
			var ex *smol.LocalExecutor
			if budget == smol.DefaultBudget {
				ex = smol.NewLocalExecutor() // the default
			} else {
				ex = smol.NewLocalExecutor(smol.WithBudget(budget))
			}
			defer ex.Close()
			tx, rx := channel.NewUnbounded[int]()
			defer tx.Close()
			defer rx.Close()
			for i := range 100_000 {
				if err := tx.TrySend(i); err != nil {
					t.Fatal(err)
				}
			}
			const want = 50_000
			d := newDrainer(rx, want)
			finished := func() bool { return d.got >= want }
			r := &refiller{tx: tx, done: finished}
			r.f.Reset(tx, 0)
			// The counter notes how many values the drainer had received
			// at each of its polls; the largest difference between two
			// polls is how many receives it waited behind.
			counts, last, maxGap := 0, 0, 0
			y := smol.YieldNow()
			counter := smol.PollFn(func(cx *smol.Context) (int, bool, error) {
				maxGap = max(maxGap, d.got-last)
				last = d.got
				for !finished() {
					if _, ok, _ := y.Poll(cx); !ok {
						return 0, false, nil
					}
					counts++
					y = smol.YieldNow()
				}
				return counts, true, nil
			})
			dt := smol.SpawnOn(ex, d)
			rt := smol.SpawnOn(ex, r)
			ct := smol.SpawnOn(ex, counter)
			for n := 0; !dt.IsFinished() || !rt.IsFinished() || !ct.IsFinished(); n++ {
				if n > 10*want || !ex.TryTick() {
					t.Fatalf("stuck after %d ticks: drainer has %d of %d", n, d.got, want)
				}
			}
			if got, err := outcome(t, dt); err != nil || got != want {
				t.Fatalf("drainer: (%d, %v)", got, err)
			}
			must(outcome(t, rt))
			if maxGap > budget {
				t.Fatalf("the counting task waited behind %d receives, more than the budget of %d", maxGap, budget)
			}
			// The counter yields between any two polls of the drainer but its
			// first and last, which count nothing.
			if min := want/budget - 2; counts < min || d.polls < want/budget {
				t.Fatalf("the counter was polled %d times and the drainer %d times for %d receives; want at least %d and %d",
					counts, d.polls, want, min, want/budget)
			}
			if r.n == 0 {
				t.Fatal("the refiller sent nothing")
			}
			t.Logf("drainer: %d polls; counter: %d yields, at most %d receives apart; refiller: %d sends", d.polls, counts, maxGap, r.n)
		})
	}
}

// TestTaskDump: Tasks and DumpTasks of a LocalExecutor describe each task
// that has waited: its state, its poll count and what it waits on.
func TestTaskDump(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	if got := ex.Tasks(); len(got) != 0 {
		t.Fatalf("Tasks of an empty executor: %v", got)
	}
	smol.SpawnOn(ex, smol.Sleep(time.Hour))
	_, rx1 := channel.New[int](1)
	smol.SpawnOn(ex, rx1.Recv())
	_, rx2 := channel.New[int](4)
	child := smol.SpawnOn(ex, rx2.Recv())
	smol.SpawnOn(ex, child)
	tx3, rx3 := channel.New[int](1)
	queued := smol.SpawnOn(ex, rx3.Recv())
	for ex.TryTick() {
	}
	// The last one is woken: it waits in the queue for its turn.
	if err := tx3.TrySend(1); err != nil {
		t.Fatal(err)
	}
	// A task queued for its first poll has never waited: it is not listed.
	smol.SpawnOn(ex, smol.Ready(0))

	infos := ex.Tasks()
	if len(infos) != 5 {
		t.Fatalf("Tasks listed %d tasks, want 5: %v", len(infos), infos)
	}
	find := func(on string) smol.TaskInfo {
		t.Helper()
		for _, ti := range infos {
			if ti.On == on {
				return ti
			}
		}
		t.Fatalf("no task waits on %q: %v", on, infos)
		return smol.TaskInfo{}
	}
	childInfo := find("channel (0/4 queued)")
	ids := map[uint32]bool{}
	for _, c := range []struct {
		what  string
		ti    smol.TaskInfo
		state smol.TaskState
		op    smol.WaitOp
	}{
		{"timer", find("timer at 01:00:00.000000 (in 1h0m0s)"), smol.TaskWaiting, smol.WaitTimer},
		{"recv", find("channel (0/1 queued)"), smol.TaskWaiting, smol.WaitRecv},
		{"child", childInfo, smol.TaskWaiting, smol.WaitRecv},
		{"join", find(fmt.Sprintf("task %d", childInfo.ID)), smol.TaskWaiting, smol.WaitTask},
		{"queued", find("channel (1/1 queued)"), smol.TaskQueued, smol.WaitRecv},
	} {
		if c.ti.State != c.state || c.ti.Op != c.op || c.ti.Polls != 1 || c.ti.ID == 0 || ids[c.ti.ID] {
			t.Errorf("%s: %+v, want state %v, op %v, 1 poll and a fresh id", c.what, c.ti, c.state, c.op)
		}
		ids[c.ti.ID] = true
	}
	if got, want := infos[0].String(), fmt.Sprintf("task %d %s, %d polls: %s %s", infos[0].ID, infos[0].State, infos[0].Polls, infos[0].Op, infos[0].On); got != want {
		t.Errorf("TaskInfo.String() = %q, want %q", got, want)
	}

	var buf strings.Builder
	if err := ex.DumpTasks(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 6 || lines[0] != "LocalExecutor: 5 tasks" {
		t.Fatalf("DumpTasks wrote %d lines, want a header and 5 tasks:\n%s", len(lines), buf.String())
	}
	for i, ti := range infos {
		if lines[i+1] != ti.String() {
			t.Errorf("dump line %d: %q, want %q", i+1, lines[i+1], ti.String())
		}
	}

	// Finished tasks leave the list; a canceled one too.
	for ex.TryTick() {
	}
	if !queued.IsFinished() {
		t.Fatal("the woken receiver did not finish")
	}
	child.Cancel()
	for ex.TryTick() {
	}
	// The join task fails with the child's ErrCanceled; the timer and the
	// first receiver remain.
	if infos := ex.Tasks(); len(infos) != 2 {
		t.Fatalf("after the queued, child and join tasks finished: %v", infos)
	}
}

// TestTaskDumpOpOfUnsaidWait: a task whose pending poll did not say what it
// waits on (its future never called WaitingOn) is listed with On empty and
// Op WaitOther, not with the Op of whatever task the executor polled
// before it, nor of its own earlier polls.
func TestTaskDumpOpOfUnsaidWait(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	smol.SpawnOn(ex, smol.Sleep(time.Hour)) // says: timer
	sig := newSignal[int]()
	smol.SpawnOn(ex, sig) // says nothing
	// Says recv at its first poll, nothing at its second.
	_, rx := channel.New[int](1)
	polls := 0
	f := rx.Recv()
	smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		if polls++; polls == 1 {
			f.Poll(cx)
			cx.Waker().Wake()
			return 0, false, nil
		}
		f.Discard()
		return 0, false, nil // woken by nothing: it waits forever
	}))
	for ex.TryTick() {
	}
	infos := ex.Tasks()
	if len(infos) != 3 {
		t.Fatalf("Tasks: %v", infos)
	}
	for _, ti := range infos {
		if ti.On == "" && ti.Op != smol.WaitOther {
			t.Errorf("task %d (%d polls) said nothing of its wait, but is listed with Op %q", ti.ID, ti.Polls, ti.Op)
		}
	}
}

// TestWithScheduler: a chooser decides which queued task runs next; it sees
// the queued tasks' ids, oldest first, and a bad index panics.
func TestWithScheduler(t *testing.T) {
	var seen [][]uint32
	var order []int
	// Always pick the newest queued task: a LIFO.
	ex := smol.NewLocalExecutor(smol.WithScheduler(func(ids []uint32) int {
		seen = append(seen, append([]uint32(nil), ids...))
		return len(ids) - 1
	}))
	defer ex.Close()
	for i := range 4 {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
			order = append(order, i)
			return i, true, nil
		})).Detach()
	}
	for ex.TryTick() {
	}
	if fmt.Sprint(order) != "[3 2 1 0]" {
		t.Fatalf("ran %v, want LIFO [3 2 1 0]", order)
	}
	if fmt.Sprint(seen[0]) != "[1 2 3 4]" {
		t.Fatalf("the chooser saw ids %v first, want [1 2 3 4]", seen[0])
	}
	bad := smol.NewLocalExecutor(smol.WithScheduler(func(ids []uint32) int { return len(ids) }))
	defer bad.Close()
	smol.SpawnOn(bad, smol.Ready(1)).Detach()
	mustPanic(t, func() { bad.TryTick() })
	mustPanic(t, func() { smol.NewExecutor(smol.WithScheduler(func([]uint32) int { return 0 })) })
}
