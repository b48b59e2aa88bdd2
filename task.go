package smol

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
)

// ErrCanceled is reported by [Task.Err] for a task stopped by [Task.Cancel].
var ErrCanceled = errors.New("smol: task canceled")

// ErrClosed is reported for work refused or stopped because its executor was
// closed: by [Run] on a closed executor, and by [Task.Err] for a task that
// the executor's Close canceled or that was spawned after Close.
var ErrClosed = errors.New("smol: executor closed")

// PanicError carries a panic out of a task to whoever awaits it: polling
// the task's handle panics with a *PanicError holding the original value and
// the stack of the task's goroutine at the time of the panic.
type PanicError struct {
	Value any    // the value the task panicked with
	Stack []byte // the stack trace of the panicking poll
}

// Error reports the panic value followed by the task's stack.
func (p *PanicError) Error() string {
	return fmt.Sprintf("smol: task panicked: %v\n\ntask stack:\n%s", p.Value, p.Stack)
}

// Unwrap returns the panic value if it is an error, so errors.Is and
// errors.As see through a PanicError.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// The task state word. A task moves through these states:
//
//	idle ─wake─▶ scheduled ─popped─▶ running ─ready or panic─▶ completed
//	  ▲                                 │
//	  ├──────── pending, not woken ─────┤
//	  │                                 └── pending, woken during the poll:
//	  │                                     stays scheduled, queued again
//	cancel (idle, scheduled or running) ──▶ closed
//
// Whoever holds the task when it becomes closed drops its future: the
// canceller if the task was idle, otherwise the goroutine that pops or is
// polling it. stScheduled guarantees the task is in at most one queue:
// only the wake that sets it pushes the task, and only a runner clears it.
// All transitions use sequentially consistent atomics (Go's only kind); the
// writes of out and panic happen before the CAS that sets stCompleted, and
// are read only after a load that observes it. The initial state is a
// plain write in SpawnOn, published with the task by the run queue's CAS.
const (
	stScheduled  uint32 = 1 << iota // in a run queue, or about to be pushed to one
	stRunning                       // being polled
	stCompleted                     // the future returned ready or panicked; result stored
	stClosed                        // canceled: the future is dropped and never polled again
	stDetached                      // no handle: the output is dropped, a panic goes to the handler
	stAwaited                       // a handle has stored an awaiter waker
	stExecClosed                    // with stClosed: canceled by the executor's Close
	stLocked                        // a spin lock guarding awaiter
	stRegistered                    // in the executor's registry (it has waited)
)

// taskState is the task state word. It is a plain uint32 under atomic
// operations rather than an atomic.Uint32 so that SpawnOn can set it with a
// plain write before the task is published: an atomic store is a locked
// instruction, a measurable part of spawning.
type taskState uint32

func (s *taskState) Load() uint32 { return atomic.LoadUint32((*uint32)(s)) }

func (s *taskState) CompareAndSwap(old, new uint32) bool {
	return atomic.CompareAndSwapUint32((*uint32)(s), old, new)
}

func (s *taskState) Or(bits uint32) (old uint32) { return atomic.OrUint32((*uint32)(s), bits) }

func (s *taskState) And(bits uint32) (old uint32) { return atomic.AndUint32((*uint32)(s), bits) }

// runnable is the part of a task that depends on its future's type.
type runnable interface {
	Waker
	// run polls the task and reports whether it was woken during the poll
	// and must be queued again.
	run(cx *Context) (again bool)
	// discard drops the future and the output; the caller owns the task.
	discard()
}

// header is the type-independent part of a task, linked into run queues and
// the executor's registry.
type header struct {
	state        taskState
	awaiter      Waker // guarded by the stLocked bit
	ex           *core
	next         *header // run-queue link
	rprev, rnext *header // registry links, guarded by ex.mu
	self         runnable
	panic        *PanicError
}

// wake schedules the task unless it is already scheduled, finished, or being
// polled; in the last case the runner queues it again when the poll returns.
func (h *header) wake() {
	for {
		s := h.state.Load()
		if s&(stScheduled|stCompleted|stClosed) != 0 {
			return
		}
		if h.state.CompareAndSwap(s, s|stScheduled) {
			if s&stRunning == 0 {
				h.ex.schedule(h)
			}
			return
		}
	}
}

// close marks the task closed. If it was idle the caller now owns it and
// drops its future; otherwise whoever runs or pops it next does. It reports
// false if the task had already completed or closed.
func (h *header) close(bits uint32) bool {
	for {
		s := h.state.Load()
		if s&(stCompleted|stClosed) != 0 {
			return false
		}
		if h.state.CompareAndSwap(s, s|stClosed|bits) {
			if s&(stRunning|stScheduled) == 0 {
				h.self.discard()
			}
			h.wakeAwaiter()
			return true
		}
	}
}

// lock takes the spin lock that guards awaiter. It is held for a few
// instructions, and only by an awaiter registering and a finishing task.
func (h *header) lock() {
	for {
		s := h.state.Load()
		if s&stLocked == 0 && h.state.CompareAndSwap(s, s|stLocked) {
			return
		}
		runtime.Gosched()
	}
}

func (h *header) unlock() { h.state.And(^stLocked) }

func (h *header) wakeAwaiter() {
	if h.state.Load()&stAwaited == 0 {
		return
	}
	h.lock()
	w := h.awaiter
	h.awaiter = nil
	h.unlock()
	if w != nil {
		w.Wake()
	}
}

// Task is the handle of a spawned future. It is itself a future of the
// task's output, so a task can be awaited from another task, from [BlockOn]
// or from [Wait]. A task keeps running whether or not its handle is polled;
// [Task.Detach] drops the handle's claim on the output and [Task.Cancel]
// stops the task.
//
// If the task panicked, polling the handle panics with a [*PanicError]. If
// the task was canceled, the handle is ready with the zero value and
// [Task.Err] tells why. A handle is awaited by one task at a time: it keeps
// the waker of its latest poll only.
type Task[T any] struct {
	out T // first: a zero-size last field would be padded
	header
}

// task is a Task together with its future, stored inline so that spawning
// costs one allocation.
type task[T any, F Future[T]] struct {
	fut F
	Task[T]
}

// Poll awaits the task's output. See [Task] for panics and cancellation.
func (t *Task[T]) Poll(cx *Context) (T, bool) {
	if v, ok := t.result(); ok {
		return v, true
	}
	// Store the waker, then announce it; the completing side sets its state
	// bit before it looks for stAwaited, so either it sees our waker or we
	// see its result below.
	t.lock()
	t.awaiter = cx.Waker()
	t.unlock()
	t.state.Or(stAwaited)
	return t.result()
}

func (t *Task[T]) result() (T, bool) {
	s := t.state.Load()
	if s&stCompleted != 0 {
		if t.panic != nil {
			panic(t.panic)
		}
		return t.out, true
	}
	var zero T
	return zero, s&stClosed != 0
}

// IsFinished reports whether the task has completed or been canceled.
func (t *Task[T]) IsFinished() bool {
	return t.state.Load()&(stCompleted|stClosed) != 0
}

// Err reports why a finished task has no output: [ErrCanceled] after
// [Task.Cancel], [ErrClosed] if its executor was closed before it completed
// (or before it was spawned, or while it was being polled). It returns nil
// for a task that completed, or that is still live on an open executor.
func (t *Task[T]) Err() error {
	s := t.state.Load()
	switch {
	case s&stCompleted != 0:
		return nil
	case s&stClosed == 0:
		// A task still running on a closed executor is being dropped.
		if t.ex.closed.Load() {
			return ErrClosed
		}
		return nil
	case s&stExecClosed != 0:
		return ErrClosed
	default:
		return ErrCanceled
	}
}

// Detach lets the task run to completion with no one awaiting it: its output
// is dropped, and a panic goes to the executor's panic handler (by default,
// the goroutine running the executor panics, which crashes the program as an
// unrecovered panic in a goroutine would). Do not poll the handle after
// Detach.
func (t *Task[T]) Detach() {
	old := t.state.Or(stDetached)
	// A task that completed before the bit was set will not look at it;
	// report its panic here instead.
	if old&stCompleted != 0 && old&stDetached == 0 && t.panic != nil {
		t.ex.onPanic(t.panic)
	}
}

// Cancel stops the task. If the task had already completed it returns the
// output and true (and panics with the task's [*PanicError] if it panicked).
// Otherwise it returns the zero value and false: the future is never polled
// again and is dropped, at once if the task was idle, else by the goroutine
// that holds it as soon as its current poll returns; a result that poll
// produces is discarded. A future that is a [Discarder] is discarded first.
// Awaiters of the handle are woken and see the zero value with [Task.Err]
// reporting [ErrCanceled]. Cancel never blocks and may be called from any
// goroutine, including from inside the task.
func (t *Task[T]) Cancel() (T, bool) {
	if t.close(0) {
		var zero T
		return zero, false
	}
	if t.state.Load()&stCompleted != 0 {
		return t.result()
	}
	var zero T
	return zero, false
}

func (t *task[T, F]) Wake() { t.wake() }

func (t *task[T, F]) run(cx *Context) bool {
	// Claim the task: scheduled becomes running, unless it was canceled while
	// it sat in the queue, in which case the claim is ours to discard. A
	// task never polled is in no registry, so Close cannot cancel it; if its
	// executor is closed it is canceled here, before its first poll.
	for {
		s := t.state.Load()
		if s&stRegistered == 0 && s&stClosed == 0 && t.ex.closed.Load() {
			t.close(stExecClosed) // scheduled: this only marks it
			continue
		}
		if s&stClosed != 0 {
			t.state.And(^stScheduled)
			t.discard()
			return false
		}
		if t.state.CompareAndSwap(s, s&^stScheduled|stRunning) {
			break
		}
	}

	// Poll. A panic becomes the task's result.
	cx.waker = t
	out, ok := t.poll(cx)
	if ok {
		t.out = out
	}

	// Publish the outcome.
	for {
		s := t.state.Load()
		switch {
		case s&stClosed != 0:
			// Canceled during the poll: whatever the poll produced is
			// dropped. A future that returned ready (or panicked) is past
			// its Discard.
			t.state.And(^(stRunning | stScheduled))
			t.drop(!ok)
			return false
		case s&stRegistered == 0 && t.ex.closed.Load():
			// The executor was closed during the first poll; Close could
			// not see this task, which was in no queue and no registry.
			t.close(stExecClosed) // running: this only marks it
		case ok:
			if !t.state.CompareAndSwap(s, s&^(stRunning|stScheduled)|stCompleted) {
				continue
			}
			t.complete(s)
			return false
		case s&stRegistered == 0:
			// Pending for the first time: join the registry before the
			// task can sit idle, so that Close finds it. If the executor
			// is closed, it is canceled like the others.
			if t.ex.register(&t.header) {
				t.state.Or(stRegistered)
			} else {
				t.close(stExecClosed) // running: this only marks it
			}
		case t.state.CompareAndSwap(s, s&^stRunning):
			// Pending. If a wake arrived during the poll, stScheduled is
			// still set and the caller queues the task again.
			return s&stScheduled != 0
		}
	}
}

// complete finishes a task whose future became ready; s is the state just
// before stCompleted was set.
func (t *task[T, F]) complete(s uint32) {
	var zf F
	t.fut = zf
	if s&stRegistered != 0 {
		t.ex.deregister(&t.header)
	}
	if s&stDetached != 0 {
		var zero T
		t.out = zero
		if t.panic != nil {
			t.ex.onPanic(t.panic)
		}
		return
	}
	t.wakeAwaiter()
}

func (t *task[T, F]) poll(cx *Context) (out T, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			t.panic = &PanicError{Value: r, Stack: debug.Stack()}
			ok = true
		}
	}()
	return t.fut.Poll(cx)
}

func (t *task[T, F]) discard() { t.drop(true) }

// drop lets go of the future and the output, first calling the future's
// Discard if asked to.
func (t *task[T, F]) drop(discardFuture bool) {
	if discardFuture {
		discard(t.fut)
	}
	var zf F
	var zero T
	t.fut, t.out = zf, zero
	if t.state.Load()&stRegistered != 0 {
		t.ex.deregister(&t.header)
	}
}

// Spawner is an executor that tasks can be spawned on: a [*LocalExecutor]
// or an [*Executor].
type Spawner interface {
	spawnCore() *core
}

// SpawnOn starts f as a task on ex and returns its handle. The task is
// queued at once and first polled by whoever drives ex. The future is
// stored inline in the task, which is one allocation; a future passed as a
// pointer keeps its own allocation too. SpawnOn may be called from any
// goroutine and from inside tasks.
//
// If ex is closed, the task is not run: the handle is returned finished,
// with [Task.Err] reporting [ErrClosed].
func SpawnOn[T any, F Future[T]](ex Spawner, f F) *Task[T] {
	c := ex.spawnCore()
	// The task is not yet published, so plain writes will do; the state
	// word is not an atomic.Uint32 for this reason (see taskState).
	t := &task[T, F]{fut: f, Task: Task[T]{header: header{state: taskState(stScheduled), ex: c}}}
	t.self = t
	if !c.spawn(&t.header) {
		t.state = taskState(stClosed | stExecClosed)
		var zf F
		t.fut = zf
	}
	return &t.Task
}
