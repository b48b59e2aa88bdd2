package smol_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolgo/smol"
)

func TestBlockOnReady(t *testing.T) {
	if got, err := smol.BlockOn(smol.Ready(4)); err != nil || got != 4 {
		t.Fatalf("got (%d, %v)", got, err)
	}
	// A failed future's error is BlockOn's error.
	errBoom := errors.New("boom")
	if got, err := smol.BlockOn(smol.Failed[int](errBoom)); err != errBoom || got != 0 {
		t.Fatalf("BlockOn(Failed): got (%d, %v), want (0, %v)", got, err, errBoom)
	}
}

func TestBlockOnWokenFromOtherGoroutine(t *testing.T) {
	checkLeaks(t)
	for range 100 {
		sig := newSignal[int]()
		go sig.Fire(3)
		if got, err := smol.BlockOn(sig); err != nil || got != 3 {
			t.Fatalf("got (%d, %v)", got, err)
		}
	}
}

func TestBlockOnSelfWaking(t *testing.T) {
	if got, err := smol.BlockOn(yields(10, "y")); err != nil || got != "y" {
		t.Fatalf("got (%q, %v)", got, err)
	}
}

func TestBlockOnStaleWakeHarmless(t *testing.T) {
	// A loser of a race keeps BlockOn's waker and fires after BlockOn
	// returned; later BlockOn calls (which may reuse the same parker) must
	// still wait for their own future.
	checkLeaks(t)
	for range 50 {
		loser := newSignal[int]()
		w, err := smol.BlockOn(smol.Race(loser, yields(1, 2)))
		if err != nil || w.Index != 1 {
			t.Fatalf("got (%+v, %v)", w, err)
		}
		loser.Fire(0)
		sig := newSignal[int]()
		go sig.Fire(9)
		if got, err := smol.BlockOn(sig); err != nil || got != 9 {
			t.Fatalf("got (%d, %v)", got, err)
		}
	}
}

func TestWait(t *testing.T) {
	checkLeaks(t)
	ctx := context.Background()
	sig := newSignal[string]()
	go sig.Fire("ok")
	if got, err := smol.Wait(ctx, sig); err != nil || got != "ok" {
		t.Fatalf("Wait: (%q, %v)", got, err)
	}
	// A failed future's error is Wait's error.
	errBoom := errors.New("boom")
	if got, err := smol.Wait(ctx, smol.Failed[string](errBoom)); err != errBoom || got != "" {
		t.Fatalf("Wait(Failed): (%q, %v), want %v", got, err, errBoom)
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
	got, err := smol.Wait(ctx, sig)
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
	if _, err := smol.Wait(ctx, sig); !errors.Is(err, context.Canceled) {
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
	if _, err := smol.Wait(ctx, canceled); err != smol.ErrCanceled {
		t.Fatalf("Wait on a canceled task: %v, want ErrCanceled", err)
	}
	ok := smol.SpawnOn(ex, smol.Ready(6))
	for ex.TryTick() {
	}
	if got, err := smol.Wait(ctx, ok); err != nil || got != 6 {
		t.Fatalf("Wait on a completed task: (%d, %v)", got, err)
	}
	// A task canceled by Close while Wait waits for it.
	pending := smol.SpawnOn(ex, smol.Never[int]())
	ex.TryTick()
	go ex.Close()
	if _, err := smol.Wait(ctx, pending); err != smol.ErrClosed {
		t.Fatalf("Wait on a task closed with its executor: %v, want ErrClosed", err)
	}
}

func TestContextDone(t *testing.T) {
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	f := smol.ContextDone(ctx)
	if _, ok, _ := f.Poll(noop); ok {
		t.Fatal("ready before ctx is done")
	}
	go cancel()
	if _, err := smol.Run(ex, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run(ContextDone): %v, want context.Canceled", err)
	}
	// Already done: ready at the first poll, failing with ctx.Err().
	if _, ok, err := smol.ContextDone(ctx).Poll(noop); !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("ContextDone of a done ctx: (%v, %v)", ok, err)
	}
}

func TestContextDoneWakesLatestWaker(t *testing.T) {
	// Polled with one waker, then another: the cancel wakes the latest.
	checkLeaks(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := smol.ContextDone(ctx)
	var first, second atomic.Int32
	if _, ok, _ := f.Poll(smol.NewContext(smol.WakerFunc(func() { first.Add(1) }))); ok {
		t.Fatal("ready before cancel")
	}
	if _, ok, _ := f.Poll(smol.NewContext(smol.WakerFunc(func() { second.Add(1) }))); ok {
		t.Fatal("ready before cancel")
	}
	cancel()
	waitFor(t, "the latest waker to be woken", func() bool { return second.Load() == 1 })
	if first.Load() != 0 {
		t.Fatal("the replaced waker was woken")
	}
	if _, ok, err := f.Poll(noop); !ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: (%v, %v)", ok, err)
	}
}

func TestContextDoneRaced(t *testing.T) {
	// ContextDone as a timeout for a future that never finishes.
	checkLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	e, err := smol.BlockOn(smol.Select(smol.Never[int](), smol.ContextDone(ctx)))
	if e.Index != 1 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got (%+v, %v)", e, err)
	}
}

// catchPanic calls fn and returns its results, or the value it panicked
// with.
func catchPanic[T any](fn func() (T, error)) (v T, err error, panicked any) {
	defer func() { panicked = recover() }()
	v, err = fn()
	return v, err, nil
}

// TestBridgesAgree awaits a task through every bridge, BlockOn, Run (on
// the task's executor and on another one) and Wait, for every way a task
// can end: a value, an error, a cancel, its executor's Close and a panic.
// The bridges must agree: the value with a nil error, the future's error,
// ErrCanceled, ErrClosed, and a re-raised *PanicError. The task ends either
// before the bridge is called or while it waits.
func TestBridgesAgree(t *testing.T) {
	checkLeaks(t)
	errBoom := errors.New("boom")
	const (
		cancelTask = -1
		closeEx    = -2
	)
	ends := []struct {
		name   string
		fire   int // the value the task's signal is fired with, or cancelTask, or closeEx
		v      int
		err    error
		panics bool
	}{
		{"value", 0, 42, nil, false},
		{"error", 1, 0, errBoom, false},
		{"panic", 2, 0, nil, true},
		{"cancel", cancelTask, 0, smol.ErrCanceled, false},
		{"closed", closeEx, 0, smol.ErrClosed, false},
	}
	bridges := []struct {
		name  string
		await func(ex *smol.Executor, task *smol.Task[int]) (int, error)
	}{
		{"BlockOn", func(_ *smol.Executor, task *smol.Task[int]) (int, error) { return smol.BlockOn(task) }},
		{"Run", func(ex *smol.Executor, task *smol.Task[int]) (int, error) { return smol.Run(ex, task) }},
		{"Run elsewhere", func(_ *smol.Executor, task *smol.Task[int]) (int, error) {
			other := smol.NewLocalExecutor()
			defer other.Close()
			return smol.Run(other, task)
		}},
		{"Wait", func(_ *smol.Executor, task *smol.Task[int]) (int, error) {
			return smol.Wait(context.Background(), task)
		}},
	}
	for _, end := range ends {
		for _, early := range []bool{true, false} {
			for _, b := range bridges {
				name := fmt.Sprintf("%s/%s/ended early %v", end.name, b.name, early)
				ex := smol.NewExecutor()
				stop := newSignal[struct{}]()
				worker := runIn(ex, stop)
				sig := newSignal[int]()
				task := smol.SpawnOn(ex, smol.Then(sig, func(k int) smol.Future[int] {
					switch k {
					case 0:
						return smol.Ready(42)
					case 1:
						return smol.Failed[int](errBoom)
					default:
						return panicStepFuture("bridge panic")
					}
				}))
				waitFor(t, "the task's first poll", func() bool { return sig.Polls() > 0 })
				finish := func() {
					switch end.fire {
					case cancelTask:
						task.Cancel()
					case closeEx:
						ex.Close()
					default:
						sig.Fire(end.fire)
					}
				}
				finished := make(chan struct{})
				if early {
					finish()
					close(finished)
					waitFor(t, "the task to end", task.IsFinished)
				} else {
					go func() {
						defer close(finished)
						time.Sleep(time.Millisecond)
						finish()
					}()
				}
				v, err, p := catchPanic(func() (int, error) { return b.await(ex, task) })
				<-finished
				switch {
				case end.panics:
					if p == nil {
						t.Fatalf("%s: no panic, got (%d, %v)", name, v, err)
					}
					checkPanicError(t, p, "bridge panic")
				case p != nil:
					t.Fatalf("%s: panicked with %v", name, p)
				case v != end.v || err != end.err:
					t.Fatalf("%s: got (%d, %v), want (%d, %v)", name, v, err, end.v, end.err)
				}
				want := error(nil)
				if end.fire == closeEx {
					want = smol.ErrClosed
				} else {
					stop.Fire(struct{}{})
				}
				if err := <-worker; err != want {
					t.Fatalf("%s: the worker's Run returned %v, want %v", name, err, want)
				}
				ex.Close()
			}
		}
	}
}

// TestContextDoneDiscardGivesUpRegistration: a ContextDone that loses a
// Select or a Race, or is discarded by hand, gives up its registration with
// its context, so canceling the context later wakes nobody.
func TestContextDoneDiscardGivesUpRegistration(t *testing.T) {
	checkLeaks(t)
	var wakes atomic.Int32
	cx := smol.NewContext(smol.WakerFunc(func() { wakes.Add(1) }))
	var cancels []context.CancelFunc
	newCtx := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		cancels = append(cancels, cancel)
		return ctx
	}

	// Beaten by a ready future at the first poll: never registered.
	if e, ok, err := smol.Select(smol.Ready(1), smol.ContextDone(newCtx())).Poll(cx); !ok || err != nil || e.Index != 0 {
		t.Fatalf("Select(Ready, ContextDone): (%+v, %v, %v)", e, ok, err)
	}
	// Registered by a pending poll, then beaten: Select discards it.
	sig := newSignal[int]()
	sel := smol.Select(sig, smol.ContextDone(newCtx()))
	if _, ok, _ := sel.Poll(cx); ok {
		t.Fatal("Select ready before either future")
	}
	sig.Fire(1)
	if e, ok, err := sel.Poll(cx); !ok || err != nil || e.Index != 0 || e.A != 1 {
		t.Fatalf("Select after the signal: (%+v, %v, %v)", e, ok, err)
	}
	// The same as a loser of a Race, behind a Map that forwards Discard.
	sig2 := newSignal[int]()
	race := smol.Race(sig2, smol.Map(smol.ContextDone(newCtx()), func(struct{}) int { return -1 }))
	if _, ok, _ := race.Poll(cx); ok {
		t.Fatal("Race ready before either future")
	}
	sig2.Fire(2)
	if w, ok, err := race.Poll(cx); !ok || err != nil || w.Index != 0 || w.Value != 2 {
		t.Fatalf("Race after the signal: (%+v, %v, %v)", w, ok, err)
	}
	// Discarded by hand after a pending poll.
	d := smol.ContextDone(newCtx())
	if _, ok, _ := d.Poll(cx); ok {
		t.Fatal("ContextDone ready before cancel")
	}
	smol.Discard(d)

	before := wakes.Load()
	for _, cancel := range cancels {
		cancel()
	}
	// A ContextDone still registered is woken by its cancel, on the
	// goroutine context.AfterFunc starts: the check below would see such a
	// wake.
	var control atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	if _, ok, _ := smol.ContextDone(ctx).Poll(smol.NewContext(smol.WakerFunc(func() { control.Add(1) }))); ok {
		t.Fatal("ContextDone ready before cancel")
	}
	cancel()
	waitFor(t, "the registered ContextDone's wake", func() bool { return control.Load() == 1 })
	time.Sleep(20 * time.Millisecond)
	if n := wakes.Load() - before; n != 0 {
		t.Fatalf("%d wakes from the contexts of discarded ContextDone futures, want 0", n)
	}
}
