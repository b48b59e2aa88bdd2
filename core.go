package smol

import (
	"sync"
	"sync/atomic"
)

// core is what both executors share: a run queue that any goroutine may push
// to without taking a lock, and the registry of live tasks that Close
// cancels.
//
// The run queue has two halves. Pushers prepend to inbox, a lock-free stack,
// with one CAS. The consumer side (the goroutine driving a LocalExecutor, or
// the Executor worker holding its queue lock) pops from queue, a FIFO list
// it alone touches; when queue is empty it swaps the whole inbox out and
// reverses it onto queue. Every task in the inbox was pushed after every
// task on queue, so tasks leave in the order they were pushed.
//
// Taking the inbox sorts out the busy tasks, those whose latest poll spent
// at least half their budget (stBusy), onto a list of their own, busy; see
// next for how the two lists take turns.
type core struct {
	inbox  atomic.Pointer[header] // newest first, linked through next
	queue  taskList               // owned by the consumer side
	busy   taskList               // owned by the consumer side
	closed atomic.Bool            // set under regMu; read without it on hot paths
	// drained is set once Close has canceled the registry and emptied the
	// queue; until then a push to the closed executor leaves its task to
	// Close (see schedule).
	drained atomic.Bool
	// busyTurn: a batch was taken while busy tasks waited, and the oldest
	// of them runs when it is done (see next); owned by the consumer side.
	busyTurn bool
	regMu    sync.Mutex // guards the registry
	tasks    *header    // registry, linked through rprev and rnext
	// wakeup gets a runner going after a push: the local executor unparks its
	// goroutine, the multi-threaded one wakes a sleeping worker.
	wakeup func()
	// acquire takes the consumer side for Close's draining, or reports false
	// if another goroutine holds it (it drains when it lets go); release
	// gives it back.
	acquire func() bool
	release func()
	onPanic func(*PanicError)
	drv     *Driver
	lastID  uint32 // the id of the latest task to join the registry; guarded by regMu
	// choose, if set, picks the next task of a LocalExecutor (see
	// WithScheduler); ids is its reusable argument. Tasks then get their
	// id when they are spawned.
	choose func(queued []uint32) int
	ids    []uint32
}

func (c *core) init(wakeup func(), acquire func() bool, release func(), opts []Option) {
	c.wakeup, c.acquire, c.release = wakeup, acquire, release
	s := makeSettings(opts, false)
	c.drv = newDriver(&s)
	c.onPanic, c.choose = s.onPanic, s.choose
	if c.onPanic == nil {
		c.onPanic = func(p *PanicError) { panic(p) }
	}
}

func (c *core) spawnCore() *core { return c }

// schedule queues h, whose stScheduled bit the caller just set. It keeps
// no count: a counter would cost two more atomic operations per task, which
// is why a LocalExecutor has no Len.
func (c *core) schedule(h *header) {
	for {
		old := c.inbox.Load()
		h.next = old
		if c.inbox.CompareAndSwap(old, h) {
			break
		}
	}
	// On a closed executor the task is dropped, not run. While Close is
	// under way, Close drops it (or, if a goroutine drives a
	// LocalExecutor, that goroutine, when it lets go): so when no one
	// drives the executor, every task woken during Close is dropped on the
	// goroutine that closed it, one at a time, beside no other (a
	// coroutine's deferred calls run in its Discard, and the tasks of a
	// LocalExecutor may share state without locks). Close sets drained
	// before it drains, so a push that saw it unset is in the inbox by
	// then (all three are sequentially consistent). A push after that
	// drops its task itself: a wake of a task that had run pushes nothing
	// by then (every such task is closed), so it is a spawn that raced
	// Close, or an Executor worker putting back the tasks it held.
	if c.closed.Load() {
		if c.drained.Load() {
			c.dropQueued()
		}
		return
	}
	c.wakeup()
}

// taskList is a FIFO list of tasks linked through next, oldest first,
// touched only by the consumer side.
type taskList struct {
	head, tail *header
	n          int
}

// pop takes the first task, or returns nil if the list is empty.
func (l *taskList) pop() *header {
	h := l.head
	if h == nil {
		return nil
	}
	l.head, h.next = h.next, nil
	if l.head == nil {
		l.tail = nil
	}
	l.n--
	return h
}

// append moves the tasks of o, a list no one else holds, to the end of l.
func (l *taskList) append(o taskList) {
	if o.head == nil {
		return
	}
	if l.tail == nil {
		l.head = o.head
	} else {
		l.tail.next = o.head
	}
	l.tail = o.tail
	l.n += o.n
}

// takeInbox moves the inbox, oldest first, onto the end of the queue, and
// its busy tasks onto the end of the busy list; the caller holds the
// consumer side.
func (c *core) takeInbox() {
	if c.inbox.Load() == nil { // a load is cheaper than a swap
		return
	}
	var light, busy taskList
	for h := c.inbox.Swap(nil); h != nil; {
		next := h.next
		// The inbox is newest first: prepend to get oldest first.
		l := &light
		if h.state.Load()&stBusy != 0 {
			l = &busy
		}
		if l.tail == nil {
			l.tail = h
		}
		h.next, l.head = l.head, h
		l.n++
		h = next
	}
	c.queue.append(light)
	c.busy.append(busy)
}

// next takes the task to poll next, or returns nil if none is queued; the
// caller holds the consumer side. The tasks that are not busy run in
// batches: the queue is the batch, and when it is empty the inbox becomes
// the next one. A batch taken while busy tasks wait is followed by a poll
// of the oldest of them; when no task but busy ones was woken, they run one
// after another, with a look at the inbox before each.
//
// A task woken by an event or another task, unless its own latest poll was
// busy, thus waits for at most the batch in front of it and one busy poll,
// however many tasks spend their whole budget on every poll (a burst of
// connections that each send a mebibyte does); and a busy task still gets
// a poll per batch, so a stream of other tasks cannot starve it.
func (c *core) next() *header {
	if h := c.queue.pop(); h != nil {
		return h
	}
	if c.busyTurn {
		c.busyTurn = false
		if h := c.busy.pop(); h != nil {
			return h
		}
	}
	c.takeInbox()
	if h := c.queue.pop(); h != nil {
		c.busyTurn = c.busy.head != nil
		return h
	}
	return c.busy.pop()
}

// queued counts the tasks that the consumer side holds.
func (c *core) queued() int { return c.queue.n + c.busy.n }

// spawn queues a new task, already marked scheduled, or reports false if
// the executor is closed. A task joins the registry only when it first
// waits (see register): one that completes in its first poll never does.
// Under a chooser every task gets its id now, so that the chooser can
// tell the queued tasks apart.
func (c *core) spawn(h *header) bool {
	if c.closed.Load() {
		return false
	}
	if c.choose != nil {
		c.regMu.Lock()
		h.id = c.nextID()
		c.regMu.Unlock()
	}
	c.schedule(h)
	return true
}

// nextID returns a new task id; regMu is held.
func (c *core) nextID() uint32 {
	c.lastID++
	if c.lastID == 0 { // 0 means "no id": skip it when the count wraps
		c.lastID++
	}
	return c.lastID
}

// register adds a task that is about to wait to the registry, where Close
// finds it; queued and running tasks need no registration, since Close
// drains the queue and a runner sees the closed state. It reports false if
// the executor is closed.
func (c *core) register(h *header) bool {
	c.regMu.Lock()
	defer c.regMu.Unlock()
	if c.closed.Load() {
		return false
	}
	if h.id == 0 {
		atomic.StoreUint32(&h.id, c.nextID())
	}
	h.rnext = c.tasks
	if c.tasks != nil {
		c.tasks.rprev = h
	}
	c.tasks = h
	return true
}

// deregister removes a finished task; removing one twice is harmless.
func (c *core) deregister(h *header) {
	c.regMu.Lock()
	if h.rprev != nil {
		h.rprev.rnext = h.rnext
	} else if c.tasks == h {
		c.tasks = h.rnext
	}
	if h.rnext != nil {
		h.rnext.rprev = h.rprev
	}
	h.rprev, h.rnext = nil, nil
	c.regMu.Unlock()
}

// close refuses new tasks, cancels every live task, and drops the queued
// ones. It reports false if the executor was already closed.
func (c *core) close() bool {
	c.regMu.Lock()
	if c.closed.Load() {
		c.regMu.Unlock()
		return false
	}
	c.closed.Store(true)
	c.regMu.Unlock()
	// Then drain, last, even if a Discard below panics: until drained is
	// set, the tasks pushed to the inbox wait for this drain (see schedule).
	defer c.dropQueued()
	defer c.drained.Store(true)
	// Cancel live tasks one at a time: canceling an idle task deregisters it,
	// which needs the lock.
	for {
		c.regMu.Lock()
		h := c.tasks
		if h != nil {
			c.tasks = h.rnext
			if h.rnext != nil {
				h.rnext.rprev = nil
			}
			h.rprev, h.rnext = nil, nil
		}
		c.regMu.Unlock()
		if h == nil {
			break
		}
		h.close(stExecClosed)
	}
	return true
}

// dropQueued drops every queued task of a closed executor, if it can take
// the consumer side; if not, the goroutine holding it calls dropQueued when
// it lets go. The tasks are taken under the consumer side and dropped after
// it is released, because dropping one wakes its awaiters, whose pushes
// come back here.
func (c *core) dropQueued() {
	for c.acquire() {
		c.takeInbox()
		c.queue.append(c.busy)
		list := c.queue.head
		c.queue, c.busy = taskList{}, taskList{}
		c.release()
		// A push that failed to acquire while we held the consumer side
		// left its task to us: look at the inbox again after releasing.
		if list == nil && c.inbox.Load() == nil {
			return
		}
		for list != nil {
			h := list
			list, h.next = h.next, nil
			h.close(stExecClosed)
			h.self().run(nil) // it is closed: this drops its future
		}
	}
}
