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
	outer := smol.SpawnOn(ex, smol.Map(smol.Future[int](inner), func(n int) int { return n + 1 }))
	got, err := smol.Run(ex, smol.Future[int](outer))
	if err != nil || got != 43 {
		t.Fatalf("Run: got (%d, %v), want 43", got, err)
	}
	if !inner.IsFinished() || inner.Err() != nil {
		t.Fatalf("inner: finished %v, err %v", inner.IsFinished(), inner.Err())
	}
}

func TestTaskAwaitedFromBlockOn(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	task := smol.SpawnOn(ex, yields(5, "hello"))
	if got := smol.BlockOn(smol.Future[string](task)); got != "hello" {
		t.Fatalf("BlockOn(task) = %q", got)
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
	t1 := smol.SpawnOn(ex1, smol.Map(smol.Future[int](sig), func(n int) int { return n * 3 }))
	stop := newSignal[struct{}]()
	done := runIn(ex1, stop)
	ex2 := smol.NewLocalExecutor()
	defer ex2.Close()
	go sig.Fire(5)
	got, err := smol.Run(ex2, smol.Future[int](smol.SpawnOn(ex2, smol.Future[int](t1))))
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
		if v, ok := task.Poll(noop); !ok || v != 3 {
			t.Fatalf("got (%d, %v)", v, ok)
		}
	}
}

func TestDetach(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var ran atomic.Bool
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, smol.Map(smol.Future[int](sig), func(n int) int { ran.Store(true); return n }))
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
	f := smol.PollFn[int](func(*smol.Context) (int, bool) {
		polls.Add(1)
		obj[0]++
		return 0, false
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
	awaiter := smol.SpawnOn(ex, smol.Future[int](task))
	ex.TryTick()
	if task.IsFinished() || awaiter.IsFinished() {
		t.Fatal("finished before cancel")
	}
	if v, ok := task.Cancel(); ok || v != 0 {
		t.Fatalf("Cancel of an idle task: got (%d, %v), want (0, false)", v, ok)
	}
	if !task.IsFinished() || task.Err() != smol.ErrCanceled {
		t.Fatalf("after Cancel: finished %v, err %v", task.IsFinished(), task.Err())
	}
	if v, ok := task.Poll(noop); !ok || v != 0 {
		t.Fatalf("canceled handle polled: got (%d, %v), want ready with zero", v, ok)
	}
	if !ex.TryTick() || !awaiter.IsFinished() {
		t.Fatal("the awaiter of a canceled task was not woken")
	}
	if !dropped() {
		t.Fatal("the canceled task still holds its future")
	}
	// Waking or canceling again is harmless, and the future is not polled.
	if v, ok := task.Cancel(); ok || v != 0 {
		t.Fatalf("second Cancel: got (%d, %v)", v, ok)
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
	if _, ok := task.Cancel(); ok {
		t.Fatal("Cancel of a queued task reported completion")
	}
	if task.Err() != smol.ErrCanceled {
		t.Fatalf("Err() = %v", task.Err())
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
	if v, ok := task.Cancel(); !ok || v != "out" {
		t.Fatalf("Cancel of a completed task: got (%q, %v), want (\"out\", true)", v, ok)
	}
	if task.Err() != nil {
		t.Fatalf("Err() = %v after a completed task's Cancel", task.Err())
	}
	if v, ok := task.Poll(noop); !ok || v != "out" {
		t.Fatalf("handle after Cancel: got (%q, %v)", v, ok)
	}
}

func TestCancelCompletedPanicked(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) { panic("kaboom") }))
	ex.TryTick()
	v := mustPanic(t, func() { task.Cancel() })
	if pe, ok := v.(*smol.PanicError); !ok || pe.Value != "kaboom" {
		t.Fatalf("Cancel of a panicked task panicked with %#v", v)
	}
}

func TestCancelRunningFromAnotherGoroutine(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	var polls atomic.Int32
	task := smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		if polls.Add(1) > 1 {
			t.Error("a task canceled during its poll was polled again")
			return 0, true
		}
		// Let the test cancel while this poll runs; the poll then reports
		// ready with a value that must be discarded. (A real poll would
		// never wait on a channel.)
		close(entered)
		<-release
		return 99, true
	}))
	awaiter := smol.SpawnOn(ex, smol.Future[int](task))
	ran := make(chan bool)
	go func() {
		ran <- ex.TryTick()
	}()
	<-entered
	if v, ok := task.Cancel(); ok || v != 0 {
		t.Fatalf("Cancel of a running task: got (%d, %v), want (0, false)", v, ok)
	}
	if !task.IsFinished() || task.Err() != smol.ErrCanceled {
		t.Fatalf("during the poll: finished %v, err %v", task.IsFinished(), task.Err())
	}
	close(release)
	if !<-ran {
		t.Fatal("TryTick ran nothing")
	}
	got := mustComplete(t, ex, smol.Future[int](awaiter))
	if got != 0 {
		t.Fatalf("the awaiter saw %d: the result of a canceled poll must be dropped", got)
	}
	if v, ok := task.Poll(noop); !ok || v != 0 || task.Err() != smol.ErrCanceled {
		t.Fatalf("after the poll: got (%d, %v), err %v", v, ok, task.Err())
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
	task := smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls.Add(1)
		close(entered)
		<-release
		cx.Waker().Wake()
		return 0, false
	}))
	ran := make(chan bool)
	go func() { ran <- ex.TryTick() }()
	<-entered
	task.Cancel()
	close(release)
	<-ran
	if ex.TryTick() {
		t.Fatal("a task canceled during its poll was queued again")
	}
	if polls.Load() != 1 || task.Err() != smol.ErrCanceled {
		t.Fatalf("polls %d, err %v", polls.Load(), task.Err())
	}
}

func TestCancelFromInside(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var self *smol.Task[int]
	var polls int
	self = smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls++
		if v, ok := self.Cancel(); ok || v != 0 {
			t.Errorf("Cancel from inside: got (%d, %v)", v, ok)
		}
		cx.Waker().Wake()
		return 7, true
	}))
	for ex.TryTick() {
	}
	if polls != 1 || self.Err() != smol.ErrCanceled {
		t.Fatalf("polls %d, err %v", polls, self.Err())
	}
	if v, _ := self.Poll(noop); v != 0 {
		t.Fatalf("a task that canceled itself reports %d", v)
	}
}

func TestIsFinishedAndErr(t *testing.T) {
	ex := smol.NewLocalExecutor()
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, smol.Future[int](sig))
	if task.IsFinished() || task.Err() != nil {
		t.Fatal("a queued task is finished or has an error")
	}
	ex.TryTick()
	if task.IsFinished() || task.Err() != nil {
		t.Fatal("a pending task is finished or has an error")
	}
	sig.Fire(1)
	ex.TryTick()
	if !task.IsFinished() || task.Err() != nil {
		t.Fatalf("completed task: finished %v, err %v", task.IsFinished(), task.Err())
	}
	// Closing the executor does not change a completed task.
	pending := smol.SpawnOn(ex, smol.Never[int]())
	ex.Close()
	if task.Err() != nil {
		t.Fatalf("Close changed a completed task's Err to %v", task.Err())
	}
	if !pending.IsFinished() || pending.Err() != smol.ErrClosed {
		t.Fatalf("task pending at Close: finished %v, err %v", pending.IsFinished(), pending.Err())
	}
	late := smol.SpawnOn(ex, smol.Ready(1))
	if !late.IsFinished() || late.Err() != smol.ErrClosed {
		t.Fatalf("task spawned after Close: finished %v, err %v", late.IsFinished(), late.Err())
	}
}

// panicStep panics with v; it is a named function so that the test can
// look for it in the task's stack.
//
//go:noinline
func panicStep(v any) (int, bool) { panic(v) }

func panicky(v any) smol.Future[int] {
	n := 0
	return smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		n++
		if n == 1 {
			cx.Waker().Wake()
			return 0, false
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
	awaiter := smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (v int, ok bool) {
		defer func() {
			if r := recover(); r != nil {
				caught, ok = r, true
			}
		}()
		return task.Poll(cx)
	}))
	mustComplete(t, ex, smol.Future[int](awaiter))
	checkPanicError(t, caught, "boom")
}

func TestPanicReRaisedToBlockOn(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	defer func() { stop.Fire(struct{}{}); <-done }()
	task := smol.SpawnOn(ex, panicky(io.ErrUnexpectedEOF))
	v := mustPanic(t, func() { smol.BlockOn(smol.Future[int](task)) })
	pe := checkPanicError(t, v, io.ErrUnexpectedEOF)
	if !errors.Is(pe, io.ErrUnexpectedEOF) {
		t.Fatal("errors.Is does not see the panic value through the PanicError")
	}
	// An awaiting task that does not recover panics in turn: the panic goes
	// up the chain of awaiters.
	outer := smol.SpawnOn(ex, smol.Future[int](task))
	v = mustPanic(t, func() { smol.BlockOn(smol.Future[int](outer)) })
	if pe, ok := v.(*smol.PanicError); !ok {
		t.Fatalf("got %#v", v)
	} else if inner, ok := pe.Value.(*smol.PanicError); !ok || inner.Value != io.ErrUnexpectedEOF {
		t.Fatalf("outer panic value %#v, want the inner *PanicError", pe.Value)
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
	if got, err := smol.Run(ex, smol.Future[int](smol.SpawnOn(ex, yields(2, 3)))); err != nil || got != 3 {
		t.Fatalf("Run after a panic: (%d, %v)", got, err)
	}
}

func panicStepFuture(v any) smol.Future[int] {
	return smol.PollFn[int](func(*smol.Context) (int, bool) { return panicStep(v) })
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
	task := smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls++
		if polls > iters {
			return polls, true
		}
		// The other goroutine wakes the task and confirms before this poll
		// returns pending, so the wake lands while the task is running.
		wakeReq <- cx.Waker()
		<-woke
		return 0, false
	}))
	guard, cancel := hangGuard()
	defer cancel()
	sel, err := smol.Run(ex, smol.Select(smol.Future[int](task), guard))
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
				fs = append(fs, smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
					wk := cx.Waker()
					w.Store(&wk)
					if n := count.Load(); n >= steps {
						return int(n), true
					}
					return 0, false
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
	task := smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls++
		w = cx.Waker()
		return 1, true
	}))
	ex.TryTick()
	w.Wake()
	w.Wake()
	if ex.TryTick() || polls != 1 || !task.IsFinished() {
		t.Fatalf("a wake after completion re-ran the task (polls %d)", polls)
	}
	// Also after cancel.
	var w2 smol.Waker
	t2 := smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) { w2 = cx.Waker(); return 0, false }))
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
	smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls++
		w = cx.Waker()
		return 0, false
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
