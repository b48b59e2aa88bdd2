package smol

import (
	"sync"
	"sync/atomic"
)

// core is what both executors share: a FIFO run queue that any goroutine may
// push to, and the registry of live tasks that Close cancels.
type core struct {
	mu         sync.Mutex
	head, tail *header      // run queue, linked through header.next
	queued     atomic.Int32 // changed under mu; read without it as a hint
	tasks      *header      // registry, linked through rprev and rnext
	closed     atomic.Bool  // set under mu; read without it on hot paths
	// wakeup gets a runner going after a push: the local executor unparks its
	// goroutine, the multi-threaded one wakes a sleeping worker.
	wakeup  func()
	onPanic func(*PanicError)
}

// Option configures an executor.
type Option func(*core)

// WithPanicHandler sets the function that receives the panic of a detached
// task. It runs on the goroutine that ran the task, after the task
// finished. The default handler panics with the [*PanicError], which crashes
// the program unless the caller of [Run] recovers.
func WithPanicHandler(h func(*PanicError)) Option {
	return func(c *core) { c.onPanic = h }
}

func (c *core) init(wakeup func(), opts []Option) {
	c.wakeup = wakeup
	c.onPanic = func(p *PanicError) { panic(p) }
	for _, o := range opts {
		o(c)
	}
}

func (c *core) spawnCore() *core { return c }

// schedule pushes a task whose stScheduled bit the caller just set.
func (c *core) schedule(h *header) {
	c.mu.Lock()
	if c.closed.Load() {
		// Close has already drained the queue: drop the task here instead.
		c.mu.Unlock()
		h.close(stExecClosed) // the task is scheduled: this only marks it
		h.state.And(^stScheduled)
		h.self.discard()
		return
	}
	c.pushLocked(h)
	c.mu.Unlock()
	c.wakeup()
}

func (c *core) pushLocked(h *header) {
	h.next = nil
	if c.tail == nil {
		c.head = h
	} else {
		c.tail.next = h
	}
	c.tail = h
	c.queued.Add(1)
}

func (c *core) popLocked() *header {
	h := c.head
	if h != nil {
		c.head, h.next = h.next, nil
		if c.head == nil {
			c.tail = nil
		}
		c.queued.Add(-1)
	}
	return h
}

func (c *core) pop() *header {
	c.mu.Lock()
	h := c.popLocked()
	c.mu.Unlock()
	return h
}

// spawn queues a new task, already marked scheduled, or reports false if
// the executor is closed. A task joins the registry only when it first
// waits (see register): one that completes in its first poll never does.
func (c *core) spawn(h *header) bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	c.pushLocked(h)
	c.mu.Unlock()
	c.wakeup()
	return true
}

// register adds a task that is about to wait to the registry, where Close
// finds it; queued and running tasks need no registration, since Close
// drains the queue and a runner sees the closed state. It reports false if
// the executor is closed.
func (c *core) register(h *header) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false
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
	c.mu.Lock()
	if h.rprev != nil {
		h.rprev.rnext = h.rnext
	} else if c.tasks == h {
		c.tasks = h.rnext
	}
	if h.rnext != nil {
		h.rnext.rprev = h.rprev
	}
	h.rprev, h.rnext = nil, nil
	c.mu.Unlock()
}

// close refuses new tasks, cancels every live task, and drops the queued
// ones. It reports false if the executor was already closed.
func (c *core) close() bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	c.closed.Store(true)
	c.mu.Unlock()
	// Cancel live tasks one at a time: canceling an idle task deregisters it,
	// which needs the lock.
	for {
		c.mu.Lock()
		h := c.tasks
		if h != nil {
			c.tasks = h.rnext
			if h.rnext != nil {
				h.rnext.rprev = nil
			}
			h.rprev, h.rnext = nil, nil
		}
		c.mu.Unlock()
		if h == nil {
			break
		}
		h.close(stExecClosed)
	}
	// The queued tasks are all closed now; popping lets each drop its future.
	for h := c.pop(); h != nil; h = c.pop() {
		h.close(stExecClosed)
		h.self.run(nil)
	}
	return true
}
