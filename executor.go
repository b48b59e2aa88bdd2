package smol

import (
	"io"
	"sync"
	"sync/atomic"
)

// Executor runs tasks on every goroutine that calls [Run] on it. Each such
// goroutine is a worker with a bounded local queue; wakes and spawns go to a
// global queue; an idle worker takes a batch from the global queue or steals
// half of a random peer's local queue, and parks when there is nothing to
// steal. Every 61st task a worker takes comes from the global queue first, so
// a worker busy with its local queue does not starve the global one.
//
// Tasks may be spawned from any goroutine. A task never runs on two
// goroutines at once, but successive polls may run on different workers.
type Executor struct {
	core
	qmu      sync.Mutex                // the consumer side of the global queue
	nglobal  atomic.Int32              // core.queued(), published under qmu
	wmu      sync.Mutex                // guards sleepers and the workers slice
	workers  atomic.Pointer[[]*worker] // copy-on-write, read by stealers without wmu
	sleepers []*worker
	nsleep   atomic.Int32   // len(sleepers), read without wmu by wakers
	started  sync.WaitGroup // the workers of Start
}

type worker struct {
	ex    *Executor
	q     ring
	p     parker
	cx    Context
	rng   uint64
	ticks uint32
}

// NewExecutor returns an executor with no workers: goroutines become its
// workers by calling [Run].
func NewExecutor(opts ...Option) *Executor {
	ex := &Executor{}
	ex.init(ex.wakeOne, ex.lockGlobal, ex.unlockGlobal, opts)
	if ex.choose != nil {
		panic("smol: WithScheduler is for a LocalExecutor; an Executor's workers run tasks as they find them")
	}
	ex.workers.Store(new([]*worker))
	return ex
}

// Driver returns the executor's driver: its clock and timers.
func (ex *Executor) Driver() *Driver { return ex.drv }

// Tasks lists the executor's live tasks that have waited at least once;
// see [LocalExecutor.Tasks].
func (ex *Executor) Tasks() []TaskInfo { return ex.taskInfos() }

// DumpTasks writes [Executor.Tasks] to w for people, one line per task.
func (ex *Executor) DumpTasks(w io.Writer) error { return ex.dumpTasks(w, "Executor") }

// Start starts n goroutines that run ex until it is closed, as n calls of
// Run(ex, smol.Never[struct{}]()) on goroutines of their own would; Run
// may still be called besides them. [Executor.Shutdown] closes ex and
// waits for them. Start after Close starts nothing that lasts: the
// goroutines return at once. It panics if n < 0.
func (ex *Executor) Start(n int) {
	if n < 0 {
		panic("smol: Executor.Start: negative count")
	}
	ex.started.Add(n)
	for range n {
		go ex.work()
	}
}

// work is the body of a goroutine started by Start; it is a named method
// so that such goroutines are recognizable in stack traces and leak
// checkers.
func (ex *Executor) work() {
	defer ex.started.Done()
	Run(ex, Never[struct{}]())
}

// Shutdown closes ex (see [Executor.Close]) and returns once every
// goroutine started by [Executor.Start] has exited: each finishes the poll
// it is in, if any, and returns. Like errgroup's Wait, it blocks; call it
// from outside the executor, never from one of its tasks, which would wait
// for its own goroutine (Close is the call for inside). Goroutines that
// called Run themselves return ErrClosed as with Close; Shutdown does not
// wait for them.
func (ex *Executor) Shutdown() {
	ex.Close()
	ex.started.Wait()
}

// Close cancels every task on the executor, queued or waiting, makes later
// spawns return finished tasks (all of these fail with [ErrClosed] when
// awaited), and makes every [Run] on it return ErrClosed. A task being
// polled when Close is called finishes that poll, and is dropped unless
// the poll returned ready, in which case its output is kept; no other task
// is polled again, and a task that a worker had already taken but not yet
// polled is dropped unpolled. Closing twice is harmless. Close does not
// wait for the workers; [Executor.Shutdown] does.
func (ex *Executor) Close() {
	if !ex.close() {
		return
	}
	for _, w := range *ex.workers.Load() {
		w.p.unpark()
	}
}

// wakeOne unparks one sleeping worker, if any, after work was queued.
func (ex *Executor) wakeOne() {
	// A worker increments nsleep before its last look at the queues, and a
	// pusher reads it after its push, so at least one sees the other (see
	// queuedHint for the tasks a worker is moving between queues).
	if ex.nsleep.Load() == 0 {
		return
	}
	ex.wmu.Lock()
	var w *worker
	if n := len(ex.sleepers); n > 0 {
		w = ex.sleepers[n-1]
		ex.sleepers = ex.sleepers[:n-1]
		ex.nsleep.Add(-1)
	}
	ex.wmu.Unlock()
	if w != nil {
		w.p.unpark()
	}
}

func (ex *Executor) runMain(main func(*Context) bool) error {
	w := &worker{ex: ex, p: newParker(), rng: seed.Add(0x9e3779b97f4a7c15)}
	w.cx.drv = ex.drv
	ex.join(w)
	defer ex.leave(w)
	enterDriving()
	defer leaveDriving()
	mw := &mainWaker{p: &w.p}
	mw.woken.Store(true)
	mcx := &Context{waker: mw, drv: ex.drv}
	for !ex.closed.Load() {
		// As on a LocalExecutor: after a pending poll of main, the tasks
		// queued at that moment (up to a bound) run before main again.
		if mw.woken.Swap(false) {
			mcx.budget = ex.drv.budget
			if main(mcx) {
				return nil
			}
			for n := min(w.q.len()+ex.globalLen(), 256); n > 0; n-- {
				h := w.find()
				if h == nil {
					break
				}
				w.share()
				w.run(h)
			}
			continue
		}
		if h := w.find(); h != nil {
			w.share()
			w.run(h)
			continue
		}
		w.sleep(mw)
	}
	return ErrClosed
}

// seed gives each worker a distinct nonzero start for its xorshift
// generator, which picks the first victim to steal from.
var seed atomic.Uint64

// share wakes a sleeping worker if work is left once w has found a task:
// the sleeper steals from w's queue or takes from the global one. A worker
// calls it after every find, which is also what wakes a worker that went
// to sleep while w was moving tasks (see queuedHint).
func (w *worker) share() {
	if ex := w.ex; ex.nsleep.Load() > 0 && (w.q.len() > 0 || ex.queuedHint() > 0) {
		ex.wakeOne()
	}
}

// lockGlobal takes the consumer side of the global queue.
func (ex *Executor) lockGlobal() bool {
	ex.qmu.Lock()
	return true
}

// unlockGlobal publishes the global queue's length and lets go of it.
func (ex *Executor) unlockGlobal() {
	ex.publishLen()
	ex.qmu.Unlock()
}

// globalLen counts the tasks in the global queue, moving the inbox onto the
// head list to do so.
func (ex *Executor) globalLen() int {
	ex.lockGlobal()
	defer ex.unlockGlobal()
	ex.takeInbox()
	return ex.queued()
}

// queuedHint estimates how many tasks wait in the global queue: the inbox,
// whose size is not kept, counts as one.
func (ex *Executor) queuedHint() int {
	// Pushers CAS the inbox before they read nsleep, and a worker going to
	// sleep adds to nsleep before it reads the inbox: with sequentially
	// consistent atomics at least one of them sees the other. Tasks that a
	// qmu holder has swapped out of the inbox and not yet published in
	// nglobal are seen by neither; the holder calls share once they are
	// published, which wakes a worker that slept meanwhile.
	n := int(ex.nglobal.Load())
	if ex.inbox.Load() != nil {
		n++
	}
	return n
}

func (ex *Executor) join(w *worker) {
	ex.wmu.Lock()
	defer ex.wmu.Unlock()
	ws := append(append([]*worker(nil), *ex.workers.Load()...), w)
	ex.workers.Store(&ws)
}

// leave removes a worker and hands its leftover local tasks to the global
// queue, so a Run that returns strands nothing.
func (ex *Executor) leave(w *worker) {
	ex.wmu.Lock()
	old := *ex.workers.Load()
	ws := make([]*worker, 0, len(old))
	for _, o := range old {
		if o != w {
			ws = append(ws, o)
		}
	}
	ex.workers.Store(&ws)
	ex.unsleep(w)
	ex.wmu.Unlock()
	for h := w.q.pop(); h != nil; h = w.q.pop() {
		ex.schedule(h)
	}
}

// unsleep removes w from the sleepers if it is there; ex.wmu is held.
func (ex *Executor) unsleep(w *worker) {
	for i, s := range ex.sleepers {
		if s == w {
			ex.sleepers = append(ex.sleepers[:i], ex.sleepers[i+1:]...)
			ex.nsleep.Add(-1)
			return
		}
	}
}

func (w *worker) run(h *header) {
	if h.self().run(&w.cx) {
		// Woken during its own poll: to the back of this worker's queue.
		w.push(h)
	}
	if w.cx.yielded() {
		pollReactor()
	}
}

// push queues h locally; when the local queue is full, half of it moves to
// the global queue, where other workers can take it.
func (w *worker) push(h *header) {
	if w.q.push(h) {
		return
	}
	var batch [ringSize / 2]*header
	n := w.q.popN(batch[:])
	for _, b := range batch[:n] {
		w.ex.schedule(b)
	}
	w.ex.schedule(h)
}

// find returns the next task to run, or nil if there is none anywhere.
func (w *worker) find() *header {
	ex := w.ex
	w.ticks++
	// Fairness: now and then I/O and the global queue go first.
	if w.ticks%61 == 0 {
		pollReactor()
		if h := w.takeGlobal(); h != nil {
			return h
		}
	}
	if h := w.q.pop(); h != nil {
		return h
	}
	if h := w.takeGlobal(); h != nil {
		return h
	}
	// Steal half of a peer's queue, trying peers from a random start.
	ws := *ex.workers.Load()
	if n := len(ws); n > 1 {
		w.rng ^= w.rng << 13
		w.rng ^= w.rng >> 7
		w.rng ^= w.rng << 17
		start := int(w.rng % uint64(n))
		for i := range n {
			v := ws[(start+i)%n]
			if v != w && w.q.stealFrom(&v.q) > 0 {
				return w.q.pop()
			}
		}
	}
	return nil
}

// takeGlobal pops one task from the global queue and moves a fair share of
// the rest into the local queue.
func (w *worker) takeGlobal() *header {
	ex := w.ex
	if ex.queuedHint() == 0 || ex.closed.Load() {
		return nil
	}
	ex.lockGlobal()
	defer ex.unlockGlobal()
	h := ex.next()
	if h == nil {
		return nil
	}
	n := min(ex.queued()/max(len(*ex.workers.Load()), 1), ringSize/2-w.q.len())
	for ; n > 0; n-- {
		w.q.push(ex.next())
	}
	return h
}

// publishLen publishes the global queue's length; qmu is held. The store is
// skipped when the value is unchanged, as it is when single tasks come and
// go, since an atomic store is a locked instruction.
func (ex *Executor) publishLen() {
	if n := int32(ex.queued()); ex.nglobal.Load() != n {
		ex.nglobal.Store(n)
	}
}

// sleep parks the worker until it is woken by new work, its main future or
// Close.
func (w *worker) sleep(mw *mainWaker) {
	ex := w.ex
	ex.wmu.Lock()
	ex.sleepers = append(ex.sleepers, w)
	ex.nsleep.Add(1)
	ex.wmu.Unlock()
	// Look once more after announcing the sleep: work queued before the
	// announcement is seen here, work queued after it wakes a sleeper, and
	// work another worker is moving between queues gets a wake from its
	// share (see queuedHint).
	if !ex.hasWork() && !mw.woken.Load() && !ex.closed.Load() {
		w.p.park()
	}
	ex.wmu.Lock()
	ex.unsleep(w)
	ex.wmu.Unlock()
}

func (ex *Executor) hasWork() bool {
	if ex.queuedHint() > 0 {
		return true
	}
	for _, v := range *ex.workers.Load() {
		if v.q.len() > 0 {
			return true
		}
	}
	return false
}

// ringSize is the capacity of a worker's local queue.
const ringSize = 256

// ring is a worker's local queue: a bounded lock-free FIFO in the style of
// the Go scheduler's runq. Only the owner pushes (storing tail); the owner
// and thieves pop by a CAS on head. Slots are atomic so that a thief reading
// a slot the owner is overwriting (a read whose result the failed CAS then
// discards) is not a data race.
type ring struct {
	head atomic.Uint32
	tail atomic.Uint32
	buf  [ringSize]atomic.Pointer[header]
}

func (r *ring) len() int {
	return int(r.tail.Load() - r.head.Load())
}

// push appends h; only the owner calls it. It reports false if full.
func (r *ring) push(h *header) bool {
	t := r.tail.Load()
	if t-r.head.Load() >= ringSize {
		return false
	}
	r.buf[t%ringSize].Store(h)
	// Publishing tail after the slot makes the slot visible to thieves.
	r.tail.Store(t + 1)
	return true
}

func (r *ring) pop() *header {
	for {
		h := r.head.Load()
		if h == r.tail.Load() {
			return nil
		}
		x := r.buf[h%ringSize].Load()
		if r.head.CompareAndSwap(h, h+1) {
			return x
		}
	}
}

// popN pops up to len(dst) tasks in one CAS; only the owner calls it.
func (r *ring) popN(dst []*header) int {
	for {
		h, t := r.head.Load(), r.tail.Load()
		n := min(int(t-h), len(dst))
		for i := range n {
			dst[i] = r.buf[(h+uint32(i))%ringSize].Load()
		}
		if r.head.CompareAndSwap(h, h+uint32(n)) {
			return n
		}
	}
}

// stealFrom moves half of v's tasks into r, which must be empty and owned
// by the caller, and returns how many it moved.
func (r *ring) stealFrom(v *ring) int {
	t := r.tail.Load()
	for {
		h, vt := v.head.Load(), v.tail.Load()
		n := vt - h
		n -= n / 2
		if n == 0 {
			return 0
		}
		if n > ringSize/2 {
			// head and tail were read at different moments; look again.
			continue
		}
		for i := range n {
			r.buf[(t+i)%ringSize].Store(v.buf[(h+i)%ringSize].Load())
		}
		if v.head.CompareAndSwap(h, h+n) {
			r.tail.Store(t + n)
			return int(n)
		}
	}
}
