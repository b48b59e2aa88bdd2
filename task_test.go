package smol_test

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"weak"

	"github.com/smolgo/smol"
)

func TestTaskAwaitedFromTask(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	inner := smol.SpawnOn(ex, yields(3, 42))
	outer := smol.SpawnOn(ex, smol.Map(inner, func(n int) int { return n + 1 }))
	got, err := smol.Run(ex, outer)
	if err != nil || got != 43 {
		t.Fatalf("Run: got (%d, %v), want 43", got, err)
	}
	if v, err := outcome(t, inner); err != nil || v != 42 {
		t.Fatalf("inner: (%d, %v), want 42", v, err)
	}
}

func TestTaskAwaitedFromBlockOn(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	task := smol.SpawnOn(ex, yields(5, "hello"))
	if got, err := smol.BlockOn(task); err != nil || got != "hello" {
		t.Fatalf("BlockOn(task) = (%q, %v)", got, err)
	}
	stop.Fire(struct{}{})
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestTaskAwaitedFromOtherExecutor(t *testing.T) {
	// A task on one executor awaited by a task on another: the wake crosses
	// executors and goroutines.
	checkLeaks(t)
	ex1 := smol.NewExecutor()
	sig := newSignal[int]()
	t1 := smol.SpawnOn(ex1, smol.Map(sig, func(n int) int { return n * 3 }))
	stop := newSignal[struct{}]()
	done := runIn(ex1, stop)
	ex2 := smol.NewLocalExecutor()
	defer ex2.Close()
	go sig.Fire(5)
	got, err := smol.Run(ex2, smol.SpawnOn(ex2, t1))
	if err != nil || got != 15 {
		t.Fatalf("got (%d, %v), want 15", got, err)
	}
	stop.Fire(struct{}{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTaskPollAfterReady(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Ready(3))
	ex.TryTick()
	for range 3 {
		if v, ok, _ := task.Poll(noop); !ok || v != 3 {
			t.Fatalf("got (%d, %v)", v, ok)
		}
	}
}

func TestDetach(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var ran atomic.Bool
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, smol.Map(sig, func(n int) int { ran.Store(true); return n }))
	task.Detach()
	ex.TryTick()
	sig.Fire(1)
	for ex.TryTick() {
	}
	if !ran.Load() {
		t.Fatal("a detached task did not run to completion")
	}
	if !task.IsFinished() {
		t.Fatal("a detached task is not finished after completing")
	}
}

func TestDetachFinishedTask(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Ready(1))
	ex.TryTick()
	task.Detach() // nothing to report; must not panic
}

// dropTracker returns a future that is pending forever while it holds an
// object, and a function that reports whether that object has been
// collected, that is, whether the task dropped the future.
func dropTracker(polls *atomic.Int32) (smol.Future[int], func() bool) {
	obj := new([64]byte)
	wp := weak.Make(obj)
	f := smol.PollFn(func(*smol.Context) (int, bool, error) {
		polls.Add(1)
		obj[0]++
		return 0, false, nil
	})
	return f, func() bool {
		for range 5 {
			runtime.GC()
			if wp.Value() == nil {
				return true
			}
		}
		return false
	}
}

func TestCancelIdle(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var polls atomic.Int32
	f, dropped := dropTracker(&polls)
	task := smol.SpawnOn(ex, f)
	ex.TryTick()
	// Another task awaits the handle; it must be woken by the cancel.
	awaiter := smol.SpawnOn(ex, task)
	ex.TryTick()
	if task.IsFinished() || awaiter.IsFinished() {
		t.Fatal("finished before cancel")
	}
	task.Cancel()
	if !task.IsFinished() {
		t.Fatal("an idle task is not finished after Cancel")
	}
	if v, ok, err := task.Poll(noop); !ok || v != 0 || err != smol.ErrCanceled {
		t.Fatalf("canceled handle polled: got (%d, %v, %v), want ready with ErrCanceled", v, ok, err)
	}
	if !ex.TryTick() || !awaiter.IsFinished() {
		t.Fatal("the awaiter of a canceled task was not woken")
	}
	if v, err := outcome(t, awaiter); err != smol.ErrCanceled || v != 0 {
		t.Fatalf("the awaiter of a canceled task: (%d, %v), want ErrCanceled", v, err)
	}
	if !dropped() {
		t.Fatal("the canceled task still holds its future")
	}
	// Waking or canceling again is harmless, and the future is not polled.
	task.Cancel()
	if v, err := outcome(t, task); err != smol.ErrCanceled || v != 0 {
		t.Fatalf("after a second Cancel: (%d, %v)", v, err)
	}
	if polls.Load() != 1 {
		t.Fatalf("future polled %d times, want 1", polls.Load())
	}
	if ex.TryTick() {
		t.Fatal("a canceled task was queued")
	}
}

func TestCancelQueued(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var polls atomic.Int32
	f, dropped := dropTracker(&polls)
	task := smol.SpawnOn(ex, f)
	task.Cancel()
	if !task.IsFinished() {
		t.Fatal("a queued task is not finished after Cancel")
	}
	if err := taskErr(t, task); err != smol.ErrCanceled {
		t.Fatalf("a task canceled in the queue: %v, want ErrCanceled", err)
	}
	for ex.TryTick() {
	}
	if polls.Load() != 0 {
		t.Fatal("a task canceled in the queue was polled")
	}
	if !dropped() {
		t.Fatal("the canceled task still holds its future")
	}
}

func TestCancelCompleted(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Ready("out"))
	ex.TryTick()
	task.Cancel() // does nothing: the task has completed
	if v, ok, err := task.Poll(noop); !ok || v != "out" || err != nil {
		t.Fatalf("handle after Cancel: got (%q, %v, %v), want the output", v, ok, err)
	}
	// A task that failed keeps its error.
	errBoom := errors.New("boom")
	failed := smol.SpawnOn(ex, smol.Failed[string](errBoom))
	ex.TryTick()
	failed.Cancel()
	if _, err := outcome(t, failed); err != errBoom {
		t.Fatalf("a failed task after Cancel: %v, want %v", err, errBoom)
	}
}

func TestCancelCompletedPanicked(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) { panic("kaboom") }))
	ex.TryTick()
	task.Cancel() // does nothing, and does not panic: awaiting does
	v := mustPanic(t, func() { smol.BlockOn(task) })
	if pe, ok := v.(*smol.PanicError); !ok || pe.Value != "kaboom" {
		t.Fatalf("awaiting a panicked task after Cancel panicked with %#v", v)
	}
}

func TestCancelRunningFromAnotherGoroutine(t *testing.T) {
	// A task canceled while its poll runs, where that poll then reports
	// ready: the poll completed the task, and its output is kept for the
	// handle rather than lost.
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	var polls atomic.Int32
	task := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		if polls.Add(1) > 1 {
			t.Error("a task canceled during its poll was polled again")
			return 0, true, nil
		}
		// Let the test cancel while this poll runs; the poll then reports
		// ready with a value that must be kept. (A real poll would never
		// wait on a channel.)
		close(entered)
		<-release
		return 99, true, nil
	}))
	// Awaited from a task on another executor, waiting when the cancel
	// comes.
	other := smol.NewLocalExecutor()
	defer other.Close()
	awaiter := smol.SpawnOn(other, task)
	if !other.TryTick() || awaiter.IsFinished() {
		t.Fatal("the awaiter did not wait")
	}
	ran := make(chan bool)
	go func() {
		ran <- ex.TryTick()
	}()
	<-entered
	task.Cancel()
	// The poll is still running: the task is not finished, and the handle
	// stays pending until the poll returns. (Cancel woke the awaiter, which
	// finds the handle pending and waits again.)
	if task.IsFinished() {
		t.Fatal("a task canceled during its poll is finished before the poll returns")
	}
	for other.TryTick() {
	}
	if awaiter.IsFinished() {
		v, err := outcome(t, awaiter)
		t.Fatalf("the awaiter finished with (%d, %v) before the canceled poll returned", v, err)
	}
	close(release)
	if !<-ran {
		t.Fatal("TryTick ran nothing")
	}
	if got := mustComplete(t, other, awaiter); got != 99 {
		t.Fatalf("the awaiter saw %d: the result of a poll that returned ready after Cancel must be kept", got)
	}
	if v, ok, err := task.Poll(noop); !ok || v != 99 || err != nil {
		t.Fatalf("after the poll: got (%d, %v, %v), want (99, true, nil)", v, ok, err)
	}
}

func TestCancelRunningPendingFromAnotherGoroutine(t *testing.T) {
	// As above, but the poll reports pending and wakes itself: the canceled
	// task must not be queued again.
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	var polls atomic.Int32
	task := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		polls.Add(1)
		close(entered)
		<-release
		cx.Waker().Wake()
		return 0, false, nil
	}))
	ran := make(chan bool)
	go func() { ran <- ex.TryTick() }()
	<-entered
	task.Cancel()
	if task.IsFinished() {
		t.Fatal("a task canceled during its poll is finished before the poll returns")
	}
	close(release)
	<-ran
	if ex.TryTick() {
		t.Fatal("a task canceled during its poll was queued again")
	}
	if !task.IsFinished() {
		t.Fatal("a task canceled during a pending poll is not finished after it")
	}
	if err := taskErr(t, task); polls.Load() != 1 || err != smol.ErrCanceled {
		t.Fatalf("polls %d, err %v", polls.Load(), err)
	}
}

func TestCancelFromInside(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	for _, ready := range []bool{true, false} {
		var self *smol.Task[int]
		var polls int
		self = smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
			polls++
			self.Cancel()
			if self.IsFinished() {
				t.Error("a task that canceled itself is finished during its own poll")
			}
			cx.Waker().Wake()
			return 7, ready, nil
		}))
		for ex.TryTick() {
		}
		if !self.IsFinished() {
			t.Fatal("a task that canceled itself is not finished")
		}
		v, err := outcome(t, self)
		switch {
		case polls != 1:
			t.Fatalf("ready %v: polled %d times, want 1", ready, polls)
		case ready && (v != 7 || err != nil):
			// The poll that canceled returned ready: the output is kept.
			t.Fatalf("a task that canceled itself and returned 7: (%d, %v)", v, err)
		case !ready && (v != 0 || err != smol.ErrCanceled):
			t.Fatalf("a task that canceled itself and returned pending: (%d, %v), want ErrCanceled", v, err)
		}
	}
}

func TestIsFinishedAndOutcome(t *testing.T) {
	ex := smol.NewLocalExecutor()
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, sig)
	if task.IsFinished() {
		t.Fatal("a queued task is finished")
	}
	if _, ok, _ := task.Poll(noop); ok {
		t.Fatal("the handle of a queued task is ready")
	}
	ex.TryTick()
	if task.IsFinished() {
		t.Fatal("a pending task is finished")
	}
	sig.Fire(1)
	ex.TryTick()
	if v, err := outcome(t, task); err != nil || v != 1 {
		t.Fatalf("completed task: (%d, %v)", v, err)
	}
	// Closing the executor does not change a completed task.
	pending := smol.SpawnOn(ex, smol.Never[int]())
	ex.Close()
	if v, err := outcome(t, task); err != nil || v != 1 {
		t.Fatalf("Close changed a completed task to (%d, %v)", v, err)
	}
	if err := taskErr(t, pending); err != smol.ErrClosed {
		t.Fatalf("task pending at Close: %v, want ErrClosed", err)
	}
	late := smol.SpawnOn(ex, smol.Ready(1))
	if err := taskErr(t, late); err != smol.ErrClosed {
		t.Fatalf("task spawned after Close: %v, want ErrClosed", err)
	}
}

// panicStep panics with v; it is a named function so that the test can
// look for it in the task's stack.
//
//go:noinline
func panicStep(v any) (int, bool, error) { panic(v) }

func panicky(v any) smol.Future[int] {
	n := 0
	return smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		n++
		if n == 1 {
			cx.Waker().Wake()
			return 0, false, nil
		}
		return panicStep(v)
	})
}

func checkPanicError(t *testing.T, v any, want any) *smol.PanicError {
	t.Helper()
	pe, ok := v.(*smol.PanicError)
	if !ok {
		t.Fatalf("panicked with %T %#v, want *smol.PanicError", v, v)
	}
	if pe.Value != want {
		t.Fatalf("PanicError.Value = %#v, want %#v", pe.Value, want)
	}
	if !strings.Contains(string(pe.Stack), "panicStep") {
		t.Fatalf("the task's stack does not mention the panicking function:\n%s", pe.Stack)
	}
	if msg := pe.Error(); !strings.Contains(msg, "panicStep") || !strings.Contains(msg, "task panicked") {
		t.Fatalf("Error() = %q", msg)
	}
	return pe
}

func TestPanicReRaisedToAwaitingTask(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, panicky("boom"))
	// The awaiter recovers the re-raised panic inside its own poll.
	var caught any
	awaiter := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (v int, ok bool, err error) {
		defer func() {
			if r := recover(); r != nil {
				caught, ok = r, true
			}
		}()
		return task.Poll(cx)
	}))
	mustComplete(t, ex, awaiter)
	checkPanicError(t, caught, "boom")
}

func TestPanicReRaisedToBlockOn(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	defer func() { stop.Fire(struct{}{}); <-done }()
	task := smol.SpawnOn(ex, panicky(io.ErrUnexpectedEOF))
	v := mustPanic(t, func() { smol.BlockOn(task) })
	pe := checkPanicError(t, v, io.ErrUnexpectedEOF)
	if !errors.Is(pe, io.ErrUnexpectedEOF) {
		t.Fatal("errors.Is does not see the panic value through the PanicError")
	}
	// An awaiting task that does not recover panics in turn: the panic goes
	// up the chain of awaiters as the same *PanicError, which keeps the
	// stack of the task that panicked (not wrapped once per awaiter).
	outer := smol.SpawnOn(ex, task)
	v = mustPanic(t, func() { smol.BlockOn(outer) })
	if got, ok := v.(*smol.PanicError); !ok || got != pe {
		t.Fatalf("outer panic %#v, want the inner task's *PanicError", v)
	}
}

func TestPanicInDetachedTaskGoesToHandler(t *testing.T) {
	var got []*smol.PanicError
	ex := smol.NewLocalExecutor(smol.WithPanicHandler(func(p *smol.PanicError) { got = append(got, p) }))
	defer ex.Close()
	smol.SpawnOn(ex, panicky("detached")).Detach()
	// Detached after it already panicked: Detach reports it.
	late := smol.SpawnOn(ex, panicky("late"))
	res, err := smol.Run(ex, yields(5, "main"))
	if err != nil || res != "main" {
		t.Fatalf("Run: (%q, %v)", res, err)
	}
	if len(got) != 1 {
		t.Fatalf("handler called %d times, want 1", len(got))
	}
	checkPanicError(t, got[0], "detached")
	late.Detach()
	if len(got) != 2 {
		t.Fatalf("Detach of a panicked task: handler called %d times in all, want 2", len(got))
	}
	checkPanicError(t, got[1], "late")
}

func TestPanicHandlerOnExecutor(t *testing.T) {
	checkLeaks(t)
	got := make(chan *smol.PanicError, 1)
	ex := smol.NewExecutor(smol.WithPanicHandler(func(p *smol.PanicError) { got <- p }))
	smol.SpawnOn(ex, panicky("mt")).Detach()
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	checkPanicError(t, <-got, "mt")
	stop.Fire(struct{}{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ex.Close()
}

func TestDefaultPanicHandlerPanicsOutOfTryTick(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	smol.SpawnOn(ex, panicStepFuture("loud")).Detach()
	v := mustPanic(t, func() { ex.TryTick() })
	checkPanicError(t, v, "loud")
	// The executor is usable after the panic.
	task := smol.SpawnOn(ex, smol.Ready(1))
	if !ex.TryTick() || !task.IsFinished() {
		t.Fatal("the executor stopped working after a task's panic")
	}
}

func TestDefaultPanicHandlerPanicsOutOfRun(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	smol.SpawnOn(ex, panicky("loud")).Detach()
	v := mustPanic(t, func() { smol.Run(ex, smol.Never[int]()) })
	checkPanicError(t, v, "loud")
	// Run works again afterwards.
	if got, err := smol.Run(ex, smol.Ready(5)); err != nil || got != 5 {
		t.Fatalf("Run after a panic: (%d, %v)", got, err)
	}
}

func TestDefaultPanicHandlerPanicsOutOfExecutorRun(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	smol.SpawnOn(ex, panicky("mt-loud")).Detach()
	v := mustPanic(t, func() { smol.Run(ex, smol.Never[int]()) })
	checkPanicError(t, v, "mt-loud")
	// A new worker keeps running tasks.
	if got, err := smol.Run(ex, smol.SpawnOn(ex, yields(2, 3))); err != nil || got != 3 {
		t.Fatalf("Run after a panic: (%d, %v)", got, err)
	}
}

func panicStepFuture(v any) smol.Future[int] {
	return smol.PollFn(func(*smol.Context) (int, bool, error) { return panicStep(v) })
}

func TestPanicOfAwaitedTaskNotSentToHandler(t *testing.T) {
	called := false
	ex := smol.NewLocalExecutor(smol.WithPanicHandler(func(*smol.PanicError) { called = true }))
	defer ex.Close()
	task := smol.SpawnOn(ex, panicky("x"))
	for ex.TryTick() {
	}
	if called {
		t.Fatal("the panic of a task with a handle went to the handler")
	}
	checkPanicError(t, mustPanic(t, func() { task.Poll(noop) }), "x")
}

// wakeDuringPoll runs a task whose every poll is woken from another
// goroutine while the poll is still running, iters times. Each such wake
// must cause another poll; a lost wake hangs the task, which the guard turns
// into a failure.
func wakeDuringPoll(t *testing.T, ex smol.Runner, iters int) {
	t.Helper()
	wakeReq := make(chan smol.Waker)
	woke := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for w := range wakeReq {
			w.Wake()
			woke <- struct{}{}
		}
	}()
	polls := 0
	task := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		polls++
		if polls > iters {
			return polls, true, nil
		}
		// The other goroutine wakes the task and confirms before this poll
		// returns pending, so the wake lands while the task is running.
		wakeReq <- cx.Waker()
		<-woke
		return 0, false, nil
	}))
	guard, cancel := hangGuard()
	defer cancel()
	sel, err := smol.Run(ex, smol.Select(task, guard))
	close(wakeReq)
	wg.Wait()
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if sel.Index != 0 {
		t.Fatalf("a wake during a poll was lost after %d polls", polls)
	}
	if sel.A != iters+1 {
		t.Fatalf("finished after %d polls, want %d", sel.A, iters+1)
	}
}

func TestWakeDuringPollLocal(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	wakeDuringPoll(t, ex, 10_000)
}

func TestWakeDuringPollExecutor(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	// A second worker so that the re-queued task may move between workers.
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	wakeDuringPoll(t, ex, 10_000)
	stop.Fire(struct{}{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestWakeRaces wakes tasks from other goroutines at random moments, racing
// with their polls; every task must still see every wake it needs.
func TestWakeRaces(t *testing.T) {
	checkLeaks(t)
	for _, name := range []string{"local", "executor"} {
		t.Run(name, func(t *testing.T) {
			var ex smol.Runner
			var closeEx func()
			if name == "local" {
				e := smol.NewLocalExecutor()
				ex, closeEx = e, e.Close
			} else {
				e := smol.NewExecutor()
				ex, closeEx = e, e.Close
				stop := newSignal[struct{}]()
				done := runIn(ex, stop)
				defer func() { stop.Fire(struct{}{}); <-done }()
			}
			defer closeEx()
			const tasks, steps = 8, 2000
			var fs []smol.Future[int]
			var wg sync.WaitGroup
			for range tasks {
				// The task is ready once the counter reaches steps; a
				// goroutine bumps the counter and wakes the task each time.
				var count atomic.Int32
				var w atomic.Pointer[smol.Waker]
				fs = append(fs, smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
					wk := cx.Waker()
					w.Store(&wk)
					if n := count.Load(); n >= steps {
						return int(n), true, nil
					}
					return 0, false, nil
				})))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range steps {
						for w.Load() == nil {
							runtime.Gosched()
						}
						count.Add(1)
						(*w.Load()).Wake()
					}
				}()
			}
			guard, cancel := hangGuard()
			defer cancel()
			sel, err := smol.Run(ex, smol.Select(smol.JoinAll(fs), guard))
			wg.Wait()
			if err != nil || sel.Index != 0 {
				t.Fatalf("lost wake: Run (%+v, %v)", sel, err)
			}
		})
	}
}

func TestWakeAfterFinishIsNoop(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var w smol.Waker
	polls := 0
	task := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		polls++
		w = cx.Waker()
		return 1, true, nil
	}))
	ex.TryTick()
	w.Wake()
	w.Wake()
	if ex.TryTick() || polls != 1 || !task.IsFinished() {
		t.Fatalf("a wake after completion re-ran the task (polls %d)", polls)
	}
	// Also after cancel.
	var w2 smol.Waker
	t2 := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) { w2 = cx.Waker(); return 0, false, nil }))
	ex.TryTick()
	t2.Cancel()
	w2.Wake()
	if ex.TryTick() {
		t.Fatal("a wake after cancel queued the task")
	}
}

func TestWakeIsIdempotent(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var w smol.Waker
	polls := 0
	smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		polls++
		w = cx.Waker()
		return 0, false, nil
	}))
	ex.TryTick()
	for range 5 {
		w.Wake()
	}
	if !ex.TryTick() || polls != 2 {
		t.Fatalf("after five wakes: polled %d times, want 2", polls)
	}
	if ex.TryTick() {
		t.Fatal("five wakes queued the task more than once")
	}
}
