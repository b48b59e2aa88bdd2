package smol_test

import (
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/clock"
)

// A canceled task discards its future, so a value sent to the channel goes
// to the receiver still waiting instead of being stranded.
func TestCancelDiscardsFuture(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	tx, rx := channel.New[int](1)
	t1 := smol.SpawnOn(ex, smol.Map(rx.Recv(), func(v int) int { return v }))
	t2 := smol.SpawnOn(ex, rx.Recv())
	for ex.TryTick() {
	}
	t1.Cancel()
	if err := tx.TrySend(5); err != nil {
		t.Fatal(err)
	}
	for ex.TryTick() {
	}
	if !t2.IsFinished() || must(smol.BlockOn(t2)) != 5 {
		t.Fatal("the value was stranded by the canceled receiver")
	}
	if _, err := smol.BlockOn(t1); err != smol.ErrCanceled {
		t.Fatalf("the canceled receiver: %v, want ErrCanceled", err)
	}
}

// Closing an executor discards its pending futures, so a value goes to a
// receiver on another executor.
func TestCloseDiscardsFutures(t *testing.T) {
	ex1, ex2 := smol.NewLocalExecutor(), smol.NewLocalExecutor()
	defer ex2.Close()
	tx, rx := channel.New[int](1)
	smol.SpawnOn(ex1, rx.Recv())
	for ex1.TryTick() {
	}
	t2 := smol.SpawnOn(ex2, rx.Recv())
	for ex2.TryTick() {
	}
	ex1.Close()
	if err := tx.TrySend(7); err != nil {
		t.Fatal(err)
	}
	for ex2.TryTick() {
	}
	if !t2.IsFinished() || must(smol.BlockOn(t2)) != 7 {
		t.Fatal("the value was stranded by the closed executor's receiver")
	}
}

// Race and Timeout discard the futures that lost, so a later value reaches
// the receiver still waiting. The timers run on a manual clock.
func TestRaceAndTimeoutDiscardLosers(t *testing.T) {
	for _, name := range []string{"race", "timeout"} {
		clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		ex := smol.NewLocalExecutor(smol.WithClock(clk))
		tx, rx := channel.New[int](1)
		var loser smol.Future[int]
		var wantErr error
		if name == "race" {
			loser = smol.Map(smol.Race(rx.Recv(), smol.Map(smol.Sleep(time.Millisecond), func(time.Time) int { return -1 })),
				func(w smol.Winner[int]) int { return w.Index })
		} else {
			loser, wantErr = smol.Timeout(rx.Recv(), time.Millisecond), smol.ErrTimeout
		}
		first := smol.SpawnOn(ex, loser)
		second := smol.SpawnOn(ex, rx.Recv())
		for ex.TryTick() {
		}
		clk.Advance(time.Millisecond)
		for ex.TryTick() {
		}
		if !first.IsFinished() {
			t.Fatalf("%s: the timer did not end the first receive", name)
		}
		if v, err := outcome(t, first); err != wantErr || name == "race" && v != 1 {
			t.Fatalf("%s: got (%d, %v), want the timer to win", name, v, err)
		}
		if err := tx.TrySend(3); err != nil {
			t.Fatal(err)
		}
		for ex.TryTick() {
		}
		if !second.IsFinished() {
			t.Fatalf("%s: the losing receive swallowed the wake", name)
		}
		if v, err := outcome(t, second); err != nil || v != 3 {
			t.Fatalf("%s: the waiting receiver got (%d, %v), want 3", name, v, err)
		}
		ex.Close()
	}
}

// wakeOther is a future that stays pending; its Discard wakes the other
// task of the pair from a goroutine of its own, and waits for that wake to
// return, as a reactor waking a task in the middle of Close would.
type wakeOther struct {
	w         smol.Waker
	other     *wakeOther
	inDiscard *bool // set while either Discard runs
	overlaps  *int  // Discards that began while the other one ran
	discarded bool
}

func (f *wakeOther) Poll(cx *smol.Context) (struct{}, bool, error) {
	f.w = cx.Waker()
	return struct{}{}, false, nil
}

func (f *wakeOther) Discard() {
	if *f.inDiscard {
		*f.overlaps++
		return
	}
	*f.inDiscard = true
	defer func() { *f.inDiscard = false }()
	f.discarded = true
	if !f.other.discarded {
		done := make(chan struct{})
		go func() { f.other.w.Wake(); close(done) }()
		<-done
	}
}

// Close discards every future on the goroutine that calls it, one at a
// time, even when another goroutine wakes a task in the middle of Close:
// the wake leaves the task to Close instead of discarding it on the waking
// goroutine, which would run it beside the Discard in progress. A
// coroutine's deferred calls run in its future's Discard, so this is what
// lets a LocalExecutor's tasks share state without locks while they unwind
// (the chat room of coro's Example_chat did, and raced).
func TestCloseDiscardsOnCloser(t *testing.T) {
	ex := smol.NewLocalExecutor()
	var inDiscard bool
	var overlaps int
	a := &wakeOther{inDiscard: &inDiscard, overlaps: &overlaps}
	b := &wakeOther{inDiscard: &inDiscard, overlaps: &overlaps, other: a}
	a.other = b
	ta, tb := smol.SpawnOn(ex, a), smol.SpawnOn(ex, b)
	for ex.TryTick() {
	}
	ex.Close()
	if overlaps != 0 || !a.discarded || !b.discarded {
		t.Fatalf("Close: %d Discards ran beside another (want 0); discarded a %v, b %v", overlaps, a.discarded, b.discarded)
	}
	for _, task := range []*smol.Task[struct{}]{ta, tb} {
		if _, err := smol.BlockOn(task); err != smol.ErrClosed {
			t.Fatalf("a task of the closed executor: %v, want ErrClosed", err)
		}
	}
}
