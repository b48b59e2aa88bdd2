package smol

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"unsafe"
)

// ErrCanceled is the error of a task stopped by [Task.Cancel].
var ErrCanceled = errors.New("smol: task canceled")

// ErrClosed is the error of work refused or stopped because its executor
// was closed: of [Run] on a closed executor, and of a task that the
// executor's Close canceled or that was spawned after Close.
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
// A task canceled while it is being polled is closed only if that poll
// returns pending; a poll that returns ready (or panics) completes it, and
// its output is kept for the handle. Whoever holds the task when it becomes
// closed drops its future: the canceller if the task was idle, otherwise
// the goroutine that pops or is polling it. stScheduled guarantees the
// task is in at most one queue: only the wake that sets it pushes the task,
// and only a runner clears it. All transitions use sequentially consistent
// atomics (Go's only kind); the writes of out and aux happen before the CAS
// that sets stCompleted, and are read only after a load that observes it.
// The initial state is a plain write in SpawnOn, published with the task
// by the run queue's CAS.
//
// stLocked is a spin lock over the fields that a task dump or an awaiter
// reads from another goroutine (awaiter, polls, aux). A runner
// claims a task (scheduled to running) only while it is not held, and
// writes those fields only while the task is running; so a holder that
// sees the task not running reads them undisturbed.
const (
	stScheduled  uint32 = 1 << iota // in a run queue, or about to be pushed to one
	stRunning                       // being polled
	stCompleted                     // the future returned ready or panicked; result stored
	stClosed                        // canceled: the future is dropped and never polled again
	stDetached                      // no handle: the output is dropped, a panic goes to the handler
	stAwaited                       // a handle has stored an awaiter waker
	stExecClosed                    // with stClosed: canceled by the executor's Close
	stLocked                        // a spin lock; see above
	stRegistered                    // in the executor's registry (it has waited)
	stPanicked                      // with stCompleted: aux holds the *PanicError
	stBusy                          // the latest poll spent half the budget or more; see core.next
)

// The top byte of the state word is the WaitOp of the latest pending poll,
// for dumps: the runner sets it in the CAS that ends such a poll, which it
// makes anyway, so it costs no store and no byte of the header.
const (
	stOpShift = 24
	stOpMask  = 0xff << stOpShift
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

// runnable is the part of a task that depends on its future's type. The
// header keeps it in half an interface (see self).
type runnable interface {
	Waker
	// run polls the task and reports whether it was woken during the poll
	// and must be queued again.
	run(cx *Context) (again bool)
	// discard drops the future and the output; the caller owns the task.
	discard()
}

// header is the type-independent part of a task, linked into run queues and
// the executor's registry. It is 88 bytes on 64-bit systems, so that the
// task of a future held by pointer fits the 96-byte size class; an idle
// connection of a server holds one, and TestIdleSizes keeps it so.
type header struct {
	_            noCopy
	state        taskState
	id           uint32 // set once, atomically, when the task joins the registry
	polls        uint32 // written by the runner; see stLocked
	off          uint32 // the header's offset in its task; see self
	awaiter      Waker  // guarded by stLocked
	ex           *core
	next         *header // run-queue link
	rprev, rnext *header // registry links, guarded by ex.regMu
	tab          unsafe.Pointer
	// aux is, while the task is live, what its latest pending poll waits
	// on (a fmt.Stringer, for dumps), and once it completed, its error or
	// *PanicError. Written by the runner; see stLocked.
	aux any
}

// self returns the task that h heads as a runnable. An interface value is
// two words, the type's method table (itab) and a pointer to the value;
// the header keeps only the first, in tab, since the second is the task's
// address, off bytes before h. This saves a word of every task, and is
// the one place that relies on the layout of an interface value, which
// the Go runtime has kept since Go 1.4 (TestIdleSizes checks that a task
// rebuilt this way is the task). A function pointer would be a word too,
// but taking a generic function's value inside generic code allocates a
// closure for its dictionary, at every spawn.
func (h *header) self() runnable {
	var r runnable
	words := (*[2]unsafe.Pointer)(unsafe.Pointer(&r))
	words[0], words[1] = h.tab, unsafe.Add(unsafe.Pointer(h), -int(h.off))
	return r
}

// noCopy makes go vet's copylocks check report a copy of the struct that
// holds it: a task, like a future after its first poll, must stay where it
// is, since wakers and queues point to it. It has no size.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

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
				h.self().discard()
			}
			h.wakeAwaiter()
			return true
		}
	}
}

// lock takes the spin lock stLocked. It is held for a few instructions, by
// an awaiter registering, a finishing task and a task dump.
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

// String names the task for dumps: "task 7", by the id it got when it first
// waited, or "task (not started)".
func (h *header) String() string {
	if id := atomic.LoadUint32(&h.id); id != 0 {
		return "task " + strconv.FormatUint(uint64(id), 10)
	}
	return "task (not started)"
}

// Task is the handle of a spawned future. It is itself a future of the
// task's output, so a task can be awaited from another task, from [BlockOn],
// [Run] or [Wait]. A task keeps running whether or not its handle is
// polled; [Task.Detach] drops the handle's claim on the output and
// [Task.Cancel] stops the task.
//
// Awaiting the handle gives the task's value and error as its future
// returned them; [ErrCanceled] if it was canceled, [ErrClosed] if its
// executor was closed first. If the task panicked, polling the handle
// panics with a [*PanicError]. A handle is awaited by one task at a time:
// it keeps the waker of its latest poll only.
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

// Poll awaits the task's outcome. See [Task].
func (t *Task[T]) Poll(cx *Context) (T, bool, error) {
	if v, ok, err := t.result(); ok {
		return v, true, err
	}
	// Store the waker, then announce it; the finishing side sets its state
	// bits before it looks for stAwaited, so either it sees our waker or we
	// see its result below.
	t.lock()
	t.awaiter = cx.Waker()
	t.unlock()
	t.state.Or(stAwaited)
	v, ok, err := t.result()
	if !ok {
		cx.WaitingOn(&t.header, WaitTask)
	}
	return v, ok, err
}

// result reports the task's outcome, or ok == false while it may still run.
// A task canceled while it is being polled is not finished until that poll
// returns: the poll may complete it.
func (t *Task[T]) result() (v T, ok bool, err error) {
	s := t.state.Load()
	switch {
	case s&stCompleted != 0:
		if s&stPanicked != 0 {
			panic(t.aux.(*PanicError))
		}
		err, _ = t.aux.(error)
		return t.out, true, err
	case s&stClosed != 0 && s&stRunning == 0:
		if s&stExecClosed != 0 {
			return v, true, ErrClosed
		}
		return v, true, ErrCanceled
	}
	return v, false, nil
}

// IsFinished reports whether the task has completed or been canceled:
// whether awaiting the handle would be ready at once.
func (t *Task[T]) IsFinished() bool {
	s := t.state.Load()
	return s&stCompleted != 0 || s&stClosed != 0 && s&stRunning == 0
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
	if old&(stCompleted|stPanicked|stDetached) == stCompleted|stPanicked {
		t.ex.onPanic(t.aux.(*PanicError))
	}
}

// Cancel stops the task: its future is never polled again and is dropped
// (discarded first, if it is a [Discarder]) at once if the task is idle,
// or, if it is being polled now, by the goroutine polling it as soon as
// that poll returns pending. Awaiting the handle then tells the outcome
// and loses nothing: the output, if the task completed first or that last
// poll completed it, else [ErrCanceled]. Canceling a finished task does
// nothing. Cancel never blocks and may be called from any goroutine,
// including from inside the task. To stop a task and take what it
// produced, cancel it and then await it:
//
//	t.Cancel()
//	v, err := smol.BlockOn(t) // err is ErrCanceled unless t had finished
func (t *Task[T]) Cancel() { t.close(0) }

func (t *task[T, F]) Wake() { t.wake() }

func (t *task[T, F]) run(cx *Context) bool {
	// Claim the task: scheduled becomes running, unless it was canceled while
	// it sat in the queue, in which case the claim is ours to discard. A
	// task never polled is in no registry, so Close cannot cancel it; if its
	// executor is closed it is canceled here, before its first poll. The
	// claim waits while stLocked is held (see the state comment).
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
		if s&stLocked != 0 {
			runtime.Gosched()
			continue
		}
		if t.state.CompareAndSwap(s, s&^stScheduled|stRunning) {
			break
		}
	}

	// Poll. A panic becomes the task's result.
	cx.waker, cx.budget, cx.waitOn, cx.waitOp = t, cx.drv.budget, nil, WaitOther
	t.polls++
	out, ok, err, panicked := t.poll(cx)
	if ok {
		t.out, t.aux = out, err
	} else {
		t.aux = cx.waitOn
	}
	cx.waitOn = nil // the executor reuses cx: keep no resource alive
	busyBit := busy(cx)

	// Publish the outcome.
	for {
		s := t.state.Load()
		switch {
		case ok:
			// Ready, even if canceled during the poll: the output is kept.
			done := s&^(stRunning|stScheduled|stClosed|stExecClosed) | stCompleted
			if panicked {
				done |= stPanicked
			}
			if !t.state.CompareAndSwap(s, done) {
				continue
			}
			t.complete(done)
			return false
		case s&stClosed != 0:
			// Canceled during a poll that stayed pending: drop the future
			// and tell the awaiter, who saw the task still running.
			t.state.And(^(stRunning | stScheduled))
			t.discard()
			t.wakeAwaiter()
			return false
		case s&stRegistered == 0 && t.ex.closed.Load():
			// The executor was closed during the first poll; Close could
			// not see this task, which was in no queue and no registry.
			t.close(stExecClosed) // running: this only marks it
		case s&stRegistered == 0:
			// Pending for the first time: join the registry before the
			// task can sit idle, so that Close finds it. If the executor
			// is closed, it is canceled like the others.
			if t.ex.register(&t.header) {
				t.state.Or(stRegistered)
			} else {
				t.close(stExecClosed) // running: this only marks it
			}
		case t.state.CompareAndSwap(s, s&^(stRunning|stOpMask|stBusy)|uint32(cx.waitOp)<<stOpShift|busyBit):
			// Pending. If a wake arrived during the poll, stScheduled is
			// still set and the caller queues the task again.
			return s&stScheduled != 0
		}
	}
}

// busy returns stBusy if the poll just made on cx spent at least half its
// budget (I/O spends it by the byte, so a task moving bulk data is busy),
// and 0 otherwise. A busy poll also counts as spent for Context.yielded:
// the executor looks at I/O next, since the tasks it would wake wait for
// their turn behind busy ones.
func busy(cx *Context) uint32 {
	if 2*(int64(cx.drv.budget)-int64(cx.budget)) >= int64(cx.drv.budget) {
		cx.spent = true
		return stBusy
	}
	return 0
}

// complete finishes a task whose future became ready; s is its new state.
func (t *task[T, F]) complete(s uint32) {
	var zf F
	t.fut = zf
	if s&stRegistered != 0 {
		t.ex.deregister(&t.header)
	}
	if s&stDetached != 0 {
		var zero T
		t.out = zero
		if s&stPanicked != 0 {
			t.ex.onPanic(t.aux.(*PanicError))
		}
		return
	}
	t.wakeAwaiter()
}

// poll polls the future; a panic makes it ready with a *PanicError. A
// panic that is already a *PanicError (a child task's, re-raised by its
// handle, or a coroutine's, caught on its own stack) is kept as it is.
func (t *task[T, F]) poll(cx *Context) (out T, ok bool, err error, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			pe, isPE := r.(*PanicError)
			if !isPE {
				pe = &PanicError{Value: r, Stack: debug.Stack()}
			}
			var zero T
			out, ok, err, panicked = zero, true, pe, true
		}
	}()
	out, ok, err = t.fut.Poll(cx)
	return out, ok, err, false
}

func (t *task[T, F]) discard() { t.drop(true) }

// drop lets go of the future and the output, first calling the future's
// Discard if asked to.
func (t *task[T, F]) drop(discardFuture bool) {
	if discardFuture {
		Discard(t.fut)
	}
	var zf F
	var zero T
	t.fut, t.out = zf, zero
	// A dump may be reading aux: the canceller of an idle task does not
	// hold the task the way a runner does.
	t.lock()
	t.aux = nil
	t.unlock()
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
// and awaiting it fails with [ErrClosed].
func SpawnOn[T any, F Future[T]](ex Spawner, f F) *Task[T] {
	c := ex.spawnCore()
	// The task is not yet published, so plain writes will do; the state
	// word is not an atomic.Uint32 for this reason (see taskState).
	t := &task[T, F]{fut: f, Task: Task[T]{header: header{state: taskState(stScheduled), ex: c}}}
	var self runnable = t
	t.tab = (*[2]unsafe.Pointer)(unsafe.Pointer(&self))[0]
	t.off = uint32(unsafe.Offsetof(t.Task) + unsafe.Offsetof(t.Task.header))
	if !c.spawn(&t.header) {
		t.state = taskState(stClosed | stExecClosed)
		var zf F
		t.fut = zf
	}
	return &t.Task
}
