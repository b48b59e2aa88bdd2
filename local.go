package smol

import (
	"fmt"
	"io"
	"sync/atomic"
)

// LocalExecutor runs tasks on the one goroutine that drives it, by [Run],
// [LocalExecutor.Tick] or [LocalExecutor.TryTick]. Tasks run in the order
// they were woken (first woken, first run), with one exception: a busy
// task, one that yielded ([YieldNow]) or whose latest poll spent half its
// budget or more, waits behind the others, and the busy tasks get one poll
// after each batch of the others (a batch is what was woken while the
// previous one ran). A fresh connection thus waits for a few polls, not for
// a round of every connection moving bulk data, and a busy task is never
// starved. A program whose wakes all come from its own tasks runs in the
// same order every time.
//
// Tasks may be spawned, and wakes may come, from any goroutine. Driving the
// executor from two goroutines at once is a bug; it is detected and panics.
type LocalExecutor struct {
	core
	driving atomic.Bool // set while a goroutine drives the executor
	p       parker
	cx      Context
	ticks   uint32
}

// NewLocalExecutor returns an empty single-threaded executor.
func NewLocalExecutor(opts ...Option) *LocalExecutor {
	ex := &LocalExecutor{p: newParker()}
	ex.init(ex.p.unpark, ex.tryEnter, ex.leave, opts)
	ex.cx.drv, ex.drv.local = ex.drv, ex
	return ex
}

// Driver returns the executor's driver: its clock and timers.
func (ex *LocalExecutor) Driver() *Driver { return ex.drv }

// Tasks lists the executor's live tasks that have waited at least once:
// what each is doing and what it waits on. It may be called from any
// goroutine, including while the executor runs; the list is a snapshot.
func (ex *LocalExecutor) Tasks() []TaskInfo { return ex.taskInfos() }

// DumpTasks writes [LocalExecutor.Tasks] to w for people: a count, then
// one line per task, as [TaskInfo.String] formats it.
func (ex *LocalExecutor) DumpTasks(w io.Writer) error { return ex.dumpTasks(w, "LocalExecutor") }

// The driving flag makes the driver the consumer side of the run queue and
// detects a second driver. Once the executor is closed, Close and any push
// that follows try to take the flag to drop the queued tasks; if a driver
// holds it, they leave the tasks to the driver, who drops them in exit.

func (ex *LocalExecutor) tryEnter() bool { return ex.driving.CompareAndSwap(false, true) }

func (ex *LocalExecutor) leave() { ex.driving.Store(false) }

// enter claims the executor for a driver, or reports false if it is closed.
func (ex *LocalExecutor) enter() bool {
	if ex.tryEnter() {
		return true
	}
	if ex.closed.Load() {
		return false
	}
	panic("smol: LocalExecutor driven by two goroutines at once")
}

// exit lets go of the executor; if it was closed meanwhile, the tasks that
// Close could not drop while it was driven are dropped now. Not before
// Close has canceled the others (drained): if it has not, its own drain
// finds the executor free and drops them (see core.schedule).
func (ex *LocalExecutor) exit() {
	ex.leave()
	if ex.drained.Load() {
		ex.dropQueued()
	}
}

// runOne polls the first queued task, if any.
func (ex *LocalExecutor) runOne() bool {
	if ex.ticks++; ex.ticks%61 == 0 {
		pollReactor()
	}
	if ex.closed.Load() {
		return false
	}
	var h *header
	if ex.choose != nil {
		h = ex.popChosen()
	} else {
		h = ex.next()
	}
	if h == nil {
		return false
	}
	if h.self().run(&ex.cx) {
		// Woken during its own poll (it yielded): to the back of the queue.
		ex.schedule(h)
	}
	if ex.cx.yielded() {
		pollReactor()
	}
	return true
}

// popChosen takes the queued task that the executor's chooser picks. The
// chooser sees one list: the busy tasks are put back in line.
func (ex *LocalExecutor) popChosen() *header {
	ex.takeInbox()
	ex.queue.append(ex.busy)
	ex.busy = taskList{}
	if ex.queue.head == nil {
		return nil
	}
	ex.ids = ex.ids[:0]
	for h := ex.queue.head; h != nil; h = h.next {
		ex.ids = append(ex.ids, atomic.LoadUint32(&h.id))
	}
	i := ex.choose(ex.ids)
	if i < 0 || i >= len(ex.ids) {
		panic(fmt.Sprintf("smol: a WithScheduler chooser picked %d of %d queued tasks", i, len(ex.ids)))
	}
	if i == 0 {
		return ex.queue.pop()
	}
	prev := ex.queue.head
	for range i - 1 {
		prev = prev.next
	}
	h := prev.next
	prev.next, h.next = h.next, nil
	if ex.queue.tail == h {
		ex.queue.tail = prev
	}
	ex.queue.n--
	return h
}

// runQueued runs as many tasks as are queued when it is called, so that a
// task that yields is queued again behind all of them and does not run
// twice.
func (ex *LocalExecutor) runQueued() {
	ex.takeInbox()
	for n := ex.queued(); n > 0 && !ex.closed.Load(); n-- {
		if !ex.runOne() {
			return
		}
	}
}

// TryTick runs one queued task, if there is one, and reports whether it did.
func (ex *LocalExecutor) TryTick() bool {
	if !ex.enter() {
		return false
	}
	defer ex.exit()
	return ex.runOne()
}

// Tick runs one task, parking the goroutine until one is queued. It returns
// [ErrClosed] without running anything if the executor is closed.
func (ex *LocalExecutor) Tick() error {
	if !ex.enter() {
		return ErrClosed
	}
	defer ex.exit()
	enterDriving()
	defer leaveDriving()
	for !ex.closed.Load() {
		if ex.runOne() {
			return nil
		}
		ex.p.park()
	}
	return ErrClosed
}

// Close cancels every task on the executor, queued or waiting, and makes
// later spawns return finished tasks, which fail with [ErrClosed] when
// awaited, as the canceled ones do. A goroutine in [Run] or Tick returns
// ErrClosed. Closing twice is harmless. Close may be called from any
// goroutine, including from a task of the executor. A task being polled
// when Close is called finishes that poll: if it returns ready, its output
// is kept. While a goroutine drives the executor, the queue is its own:
// the tasks queued and never polled are dropped, and finish, when that
// goroutine returns from Run, Tick or TryTick.
func (ex *LocalExecutor) Close() {
	if ex.close() {
		ex.p.unpark() // a driver parked or in a poll returns and drops the rest
	}
}

func (ex *LocalExecutor) runMain(main func(*Context) bool) error {
	if !ex.enter() {
		return ErrClosed
	}
	defer ex.exit()
	enterDriving()
	defer leaveDriving()
	mw := &mainWaker{p: &ex.p}
	mw.woken.Store(true)
	mcx := &Context{waker: mw, drv: ex.drv}
	for !ex.closed.Load() {
		// The main future first whenever it was woken; if it is still
		// pending, every task queued at that moment runs before main is
		// polled again (so a main that yields lets the others run). Park
		// only when neither has anything to do.
		if mw.woken.Swap(false) {
			mcx.budget = ex.drv.budget
			if main(mcx) {
				return nil
			}
			ex.runQueued()
			continue
		}
		if !ex.runOne() && !mw.woken.Load() {
			ex.p.park()
		}
	}
	return ErrClosed
}

// Runner is an executor that goroutines can drive with [Run].
type Runner interface {
	Spawner
	runMain(main func(*Context) bool) error
}

// Run drives ex on the calling goroutine until f is ready, and returns f's
// value and error. f itself is polled on the calling goroutine, not as a
// task, with ex's driver and a task's budget. On a [*LocalExecutor] Run is
// the one goroutine that runs tasks; on an [*Executor] any number of
// goroutines may call Run at once, each becoming a worker until its own f
// is ready. If ex is closed before f is ready, Run returns [ErrClosed]. A
// panic in f, or in a task f awaits, propagates out of Run.
func Run[T any](ex Runner, f Future[T]) (T, error) {
	var out T
	var ferr error
	err := ex.runMain(func(cx *Context) bool {
		v, ok, err := f.Poll(cx)
		out, ferr = v, err
		return ok
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, ferr
}
