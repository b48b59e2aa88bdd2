package smol

import "sync/atomic"

// LocalExecutor runs tasks on the one goroutine that drives it, by [Run],
// [LocalExecutor.Tick] or [LocalExecutor.TryTick]. Tasks run in the order
// they were woken (first woken, first run), so a program whose wakes all
// come from its own tasks runs in the same order every time.
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
	return ex
}

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
// Close could not drop while it was driven are dropped now.
func (ex *LocalExecutor) exit() {
	ex.leave()
	if ex.closed.Load() {
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
	if ex.head == nil {
		ex.takeInbox()
	}
	h := ex.pop()
	if h == nil {
		return false
	}
	if h.self.run(&ex.cx) {
		// Woken during its own poll (it yielded): to the back of the queue.
		ex.schedule(h)
	}
	return true
}

// runQueued runs the tasks queued at the moment it is called, and none
// queued after (a task that yields is queued again behind them).
func (ex *LocalExecutor) runQueued() {
	ex.takeInbox()
	for last := ex.tail; last != nil && !ex.closed.Load(); {
		h := ex.head
		if !ex.runOne() || h == last {
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
	for !ex.closed.Load() {
		if ex.runOne() {
			return nil
		}
		ex.p.park()
	}
	return ErrClosed
}

// Close cancels every task on the executor, queued or waiting, and makes
// later spawns return finished tasks whose Err is [ErrClosed]. A goroutine
// in [Run] or Tick returns ErrClosed. Closing twice is harmless. Close may
// be called from any goroutine, including from a task of the executor.
// While a goroutine drives the executor, the queue is its own: the tasks
// queued and never polled are dropped, and report IsFinished, when that
// goroutine returns from Run, Tick or TryTick; meanwhile their Err already
// reports ErrClosed.
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
	mw := &mainWaker{p: &ex.p}
	mw.woken.Store(true)
	mcx := &Context{waker: mw}
	for !ex.closed.Load() {
		// The main future first whenever it was woken; if it is still
		// pending, every task queued at that moment runs before main is
		// polled again (so a main that yields lets the others run). Park
		// only when neither has anything to do.
		if mw.woken.Swap(false) {
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
// value. f itself is polled on the calling goroutine, not as a task. On a
// [*LocalExecutor] Run is the one goroutine that runs tasks; on an
// [*Executor] any number of goroutines may call Run at once, each becoming a
// worker until its own f is ready. If ex is closed before f is ready, Run
// returns [ErrClosed].
func Run[T any](ex Runner, f Future[T]) (T, error) {
	var out T
	err := ex.runMain(func(cx *Context) bool {
		v, ok := f.Poll(cx)
		out = v
		return ok
	})
	return out, err
}
