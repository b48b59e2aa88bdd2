// Package coro runs straight-line Go code as smol tasks: a function that
// reads, sleeps, receives and locks with ordinary calls returning
// (value, error), while its executor keeps control of scheduling.
//
//	task := coro.Spawn(ex, func(co *coro.Co) (int, error) {
//		n, err := co.Read(conn, buf) // suspends the task, not a goroutine
//		if err != nil {
//			return 0, err
//		}
//		return co.WriteAll(conn, buf[:n])
//	})
//
// # How it runs
//
// A coroutine task's function runs only while its task is being polled.
// [Await] polls a future with the task's Context; if the future is ready it
// returns at once, and if it is pending the function is suspended (it
// yields to the executor, which goes on with other tasks) until the
// future's wake makes the executor poll the task again. So a LocalExecutor
// still runs everything one step at a time, in a reproducible order, and
// the task's cooperative budget, driver and clock apply inside the function
// as they do in any poll. The function may spawn tasks, race futures
// ([smol.Race] under Await) and use timers, channels, locks and sockets.
//
// It is built on the Go runtime's coroutines (iter.Pull): each coroutine
// task has a goroutine of its own, but only one of the task's goroutine and
// its executor's goroutine runs at any moment, and they switch directly
// without going through the scheduler.
//
// # Cancellation
//
// Canceling the task, or closing its executor, unwinds the function: the
// await in progress discards its future and does not poll it again, and
// the function's deferred calls run, on the goroutine that canceled, before
// Cancel or Close returns. An await made after the cancellation (in a
// deferred call, say) panics again at once, ending that deferred call
// while the others still run. The unwinding is a panic of type [Canceled]:
// do not recover it, as you would not recover runtime.Goexit.
//
// # Panics and misuse
//
// A panic in the function propagates like any task panic: awaiting the task
// re-raises it as a *smol.PanicError with the coroutine's stack. An await
// handle used after its coroutine ended, or outside its coroutine (from a
// goroutine the function started, from another task, or after the poll
// that ran it), panics with a message that says so. (A handle used by a
// goroutine of the function's own while the coroutine runs is a data race
// that only the race detector sees.)
//
// # Costs, and when to choose which
//
// A parked coroutine task holds a goroutine stack besides its task: a few
// KiB, against about a hundred bytes for a stackless task waiting on the
// same thing. An await of a ready future costs a poll and nothing else; an
// await that suspends costs two direct switches between goroutines on top
// of the wake and the poll. BENCHMARKS.md has the figures (BenchmarkAwait,
// BenchmarkPendingRoundTrip and BenchmarkParkedMemory in this package, with
// the stackless path and plain goroutines beside them). Write protocol code,
// request handlers and anything with many steps as coroutines; keep hand
// written Poll state machines for what you hold by the hundred thousand (an
// idle connection of a large server) or what sits on the hottest path.
package coro

import (
	"fmt"
	"iter"
	"runtime/debug"
	"sync/atomic"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/internal/coromark"
)

// Co is the await handle of a coroutine task: the function passed to
// [Spawn] receives it and passes it to [Await] and the helpers. It is valid
// only inside that function, on the coroutine's own goroutine.
type Co struct {
	ex    smol.Spawner
	cx    *smol.Context       // the context of the poll running the coroutine
	yield func(struct{}) bool // iter.Pull's yield: suspends the coroutine
	// running is set while the coroutine runs, between the executor's
	// resume and the coroutine's next suspension; ended once its function
	// has returned. Both are read by Await to catch a handle used from
	// elsewhere. They are atomic because that elsewhere may be another
	// goroutine.
	running  atomic.Bool
	ended    atomic.Bool
	canceled bool // stop resumed the coroutine: unwind
}

// Canceled is the panic value that unwinds a coroutine whose task was
// canceled or whose executor was closed. It is recovered where the
// coroutine starts; code of yours must not recover it.
type Canceled struct{}

func (Canceled) Error() string { return "coro: task canceled: unwinding its coroutine" }

// task is the future a coroutine task runs. Its state:
//
//	next == nil      not started: the function has not run
//	suspended        the function waits in Await (yield)
//	done             the function returned, panicked or was unwound
type task[T any] struct {
	co    Co
	fn    func(*Co) (T, error)
	next  func() (struct{}, bool)
	stop  func()
	out   T
	err   error
	panic *smol.PanicError
	done  bool
}

// Spawn starts fn as a task on ex, as smol.SpawnOn starts a future: the
// task is queued at once, and fn first runs when ex first polls it. The
// handle is ready with fn's results once fn returns.
func Spawn[T any](ex smol.Spawner, fn func(co *Co) (T, error)) *smol.Task[T] {
	t := &task[T]{fn: fn}
	t.co.ex = ex
	return smol.SpawnOn(ex, t)
}

// Poll resumes the function until it awaits a pending future or returns.
func (t *task[T]) Poll(cx *smol.Context) (T, bool, error) {
	if t.done {
		panic("coro: task polled after it was ready")
	}
	if t.next == nil {
		// Before the coroutine exists: smolnet's completion path must not
		// lock this goroutine to its thread from now on (see coromark).
		coromark.Mark(cx.Driver())
		t.next, t.stop = iter.Pull(t.run)
	}
	co := &t.co
	co.cx = cx
	co.running.Store(true)
	_, suspended := t.next()
	co.running.Store(false)
	co.cx = nil
	if suspended {
		return *new(T), false, nil
	}
	t.done = true
	if t.panic != nil {
		panic(t.panic)
	}
	return t.out, true, t.err
}

// run is the coroutine's body. A panic of the function is caught here,
// with the coroutine's own stack, and re-raised by Poll on the executor;
// the unwinding panic of a cancellation ends here.
func (t *task[T]) run(yield func(struct{}) bool) {
	co := &t.co
	co.yield = yield
	defer func() {
		co.ended.Store(true)
		if r := recover(); r != nil {
			if _, unwinding := r.(Canceled); !unwinding {
				t.panic = &smol.PanicError{Value: r, Stack: debug.Stack()}
			}
		}
	}()
	t.out, t.err = t.fn(co)
}

// Discard unwinds a coroutine that was started and has not finished: its
// await in progress discards its future, and its deferred calls run before
// Discard returns.
func (t *task[T]) Discard() {
	if t.stop != nil && !t.done {
		t.co.canceled = true
		t.done = true
		t.co.running.Store(true)
		t.stop()
		t.co.running.Store(false)
	}
}

// check panics if co is not the coroutine running now.
func (co *Co) check() {
	switch {
	case co.ended.Load():
		panic("coro: await handle used after its coroutine ended")
	case !co.running.Load():
		panic("coro: await handle used outside its coroutine (from another goroutine or task, or outside the poll that runs it)")
	}
}

// Await waits for f inside a coroutine and returns its value and error:
// at once if f is ready, or after suspending the coroutine until f's wake
// makes the executor poll the task again. See the package documentation for
// cancellation and misuse.
func Await[T any](co *Co, f smol.Future[T]) (T, error) {
	co.check()
	if co.canceled {
		smol.Discard(f)
		panic(Canceled{})
	}
	for {
		v, ok, err := f.Poll(co.cx)
		if ok {
			return v, err
		}
		// Suspend. The executor resumes us when the task is polled again,
		// or stop does when it is canceled.
		if !co.yield(struct{}{}) || co.canceled {
			co.canceled = true
			smol.Discard(f)
			panic(Canceled{})
		}
	}
}

// Executor returns the executor the coroutine's task was spawned on, to
// spawn more tasks beside it.
func (co *Co) Executor() smol.Spawner { return co.ex }

// Driver returns the driver of the coroutine's executor: its clock and
// timers. co.Driver().Now() is the time to use inside a coroutine.
func (co *Co) Driver() *smol.Driver {
	co.check()
	return co.cx.Driver()
}

// Yield lets the executor run every other runnable task before the
// coroutine goes on.
func (co *Co) Yield() {
	if _, err := Await(co, smol.YieldNow()); err != nil {
		panic(fmt.Sprintf("coro: YieldNow failed: %v", err)) // it never does
	}
}
