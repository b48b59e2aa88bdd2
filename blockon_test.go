package smol_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolgo/smol"
)

func TestBlockOnReady(t *testing.T) {
	if got := smol.BlockOn(smol.Ready(4)); got != 4 {
		t.Fatalf("got %d", got)
	}
}

func TestBlockOnWokenFromOtherGoroutine(t *testing.T) {
	checkLeaks(t)
	for range 100 {
		sig := newSignal[int]()
		go sig.Fire(3)
		if got := smol.BlockOn(smol.Future[int](sig)); got != 3 {
			t.Fatalf("got %d", got)
		}
	}
}

func TestBlockOnSelfWaking(t *testing.T) {
	if got := smol.BlockOn(yields(10, "y")); got != "y" {
		t.Fatalf("got %q", got)
	}
}

func TestBlockOnStaleWakeHarmless(t *testing.T) {
	// A loser of a race keeps BlockOn's waker and fires after BlockOn
	// returned; later BlockOn calls (which may reuse the same parker) must
	// still wait for their own future.
	checkLeaks(t)
	for range 50 {
		loser := newSignal[int]()
		w := smol.BlockOn(smol.Race(smol.Future[int](loser), yields(1, 2)))
		if w.Index != 1 {
			t.Fatalf("got %+v", w)
		}
		loser.Fire(0)
		sig := newSignal[int]()
		go sig.Fire(9)
		if got := smol.BlockOn(smol.Future[int](sig)); got != 9 {
			t.Fatalf("got %d", got)
		}
	}
}

func TestWait(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	sig := newSignal[string]()
	go sig.Fire("ok")
	if got, err := smol.Wait(ctx, smol.Future[string](sig)); err != nil || got != "ok" {
		t.Fatalf("Wait: (%q, %v)", got, err)
	}
}

func TestWaitCanceled(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	sig := newSignal[int]()
	go func() {
		// Cancel once Wait is parked on the pending future.
		waitFor(t, "the first poll", func() bool { return sig.Polls() > 0 })
		cancel()
	}()
	got, err := smol.Wait(ctx, smol.Future[int](sig))
	if !errors.Is(err, context.Canceled) || got != 0 {
		t.Fatalf("Wait: (%d, %v), want context.Canceled", got, err)
	}
}

func TestWaitDeadline(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	_, err := smol.Wait(ctx, smol.Never[int]())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait: %v, want DeadlineExceeded", err)
	}
}

func TestWaitAlreadyDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sig := newSignal[int]()
	sig.Fire(1)
	if _, err := smol.Wait(ctx, smol.Future[int](sig)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait: %v", err)
	}
	if sig.Polls() != 0 {
		t.Fatal("Wait polled the future although ctx was already done")
	}
}

func TestWaitTaskErr(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	ex := smol.NewLocalExecutor()
	canceled := smol.SpawnOn(ex, smol.Never[int]())
	canceled.Cancel()
	if _, err := smol.Wait(ctx, smol.Future[int](canceled)); err != smol.ErrCanceled {
		t.Fatalf("Wait on a canceled task: %v, want ErrCanceled", err)
	}
	ok := smol.SpawnOn(ex, smol.Ready(6))
	for ex.TryTick() {
	}
	if got, err := smol.Wait(ctx, smol.Future[int](ok)); err != nil || got != 6 {
		t.Fatalf("Wait on a completed task: (%d, %v)", got, err)
	}
	// A task canceled by Close while Wait waits for it.
	pending := smol.SpawnOn(ex, smol.Never[int]())
	ex.TryTick()
	go ex.Close()
	if _, err := smol.Wait(ctx, smol.Future[int](pending)); err != smol.ErrClosed {
		t.Fatalf("Wait on a task closed with its executor: %v, want ErrClosed", err)
	}
}

func TestContextDone(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	f := smol.ContextDone(ctx)
	if _, ok := f.Poll(noop); ok {
		t.Fatal("ready before ctx is done")
	}
	go cancel()
	got, err := smol.Run(ex, f)
	if err != nil || !errors.Is(got, context.Canceled) {
		t.Fatalf("Run(ContextDone): (%v, %v), want context.Canceled", got, err)
	}
	// Already done: ready at the first poll.
	if v, ok := smol.ContextDone(ctx).Poll(noop); !ok || !errors.Is(v, context.Canceled) {
		t.Fatalf("ContextDone of a done ctx: (%v, %v)", v, ok)
	}
}

func TestContextDoneWakesLatestWaker(t *testing.T) {
	// Polled with one waker, then another: the cancel wakes the latest.
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := smol.ContextDone(ctx)
	var first, second atomic.Int32
	if _, ok := f.Poll(smol.NewContext(smol.WakerFunc(func() { first.Add(1) }))); ok {
		t.Fatal("ready before cancel")
	}
	if _, ok := f.Poll(smol.NewContext(smol.WakerFunc(func() { second.Add(1) }))); ok {
		t.Fatal("ready before cancel")
	}
	cancel()
	waitFor(t, "the latest waker to be woken", func() bool { return second.Load() == 1 })
	if first.Load() != 0 {
		t.Fatal("the replaced waker was woken")
	}
	if v, ok := f.Poll(noop); !ok || !errors.Is(v, context.Canceled) {
		t.Fatalf("after cancel: (%v, %v)", v, ok)
	}
}

func TestContextDoneRaced(t *testing.T) {
	// ContextDone as a timeout for a future that never finishes.
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	e := smol.BlockOn(smol.Select(smol.Never[int](), smol.ContextDone(ctx)))
	if e.Index != 1 || !errors.Is(e.B, context.DeadlineExceeded) {
		t.Fatalf("got %+v", e)
	}
}
