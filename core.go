package smol

import (
	"sync"
	"sync/atomic"
)

// core is what both executors share: a FIFO run queue that any goroutine may
// push to, and the registry of live tasks that Close cancels.
type core struct {
	mu         sync.Mutex
	head, tail *header // run queue, linked through header.next
	queued     int
	tasks      *header     // registry, linked through rprev and rnext
	closed     atomic.Bool // set under mu; read without it on hot paths
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
		for {
			// Closed by the executor, unless Cancel got there first.
			s := h.state.Load()
			n := (s | stClosed) &^ stScheduled
			if s&stClosed == 0 {
				n |= stExecClosed
			}
			if h.state.CompareAndSwap(s, n) {
				break
			}
		}
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
	c.queued++
}

func (c *core) popLocked() *header {
	h := c.head
	if h != nil {
		c.head, h.next = h.next, nil
		if c.head == nil {
			c.tail = nil
		}
		c.queued--
	}
	return h
}

func (c *core) pop() *header {
	c.mu.Lock()
	h := c.popLocked()
	c.mu.Unlock()
	return h
}

// spawn adds a new task, already marked scheduled, to the registry and the
// run queue under one lock, or reports false if the executor is closed.
func (c *core) spawn(h *header) bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	h.rnext = c.tasks
	if c.tasks != nil {
		c.tasks.rprev = h
	}
	c.tasks = h
	c.pushLocked(h)
	c.mu.Unlock()
	c.wakeup()
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
		h.state.Or(stClosed | stExecClosed)
		h.self.run(nil)
	}
	return true
}
