// Package blocking runs blocking calls (file I/O, cgo, DNS, anything that
// parks a thread) off the executors, on a bounded pool of goroutines, as
// futures that tasks await: smol's "blocking" crate for Go.
//
//	data, err := smol.BlockOn(blocking.Unblock(func() ([]byte, error) { return os.ReadFile(name) }))
//
// A poll must never block; this is where blocking work goes instead. The
// pool is the one place in the runtime where goroutines grow with load,
// and it is bounded: DefaultMaxThreads (500) unless the environment
// variable SMOL_MAX_BLOCKING_THREADS says otherwise; beyond the bound,
// calls wait in a FIFO queue. A goroutine idle for 500 ms exits.
package blocking

import (
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/internal/env"
)

// Pool runs blocking functions on a bounded set of goroutines, so
// that tasks can await blocking calls (file I/O, cgo, DNS) without blocking
// an executor. The pool starts a goroutine when work is queued and none is
// idle, up to its limit; beyond the limit, work waits in a FIFO queue. A
// goroutine idle for the pool's idle timeout exits.
type Pool struct {
	mu      sync.Mutex
	queue   []func()
	idle    int
	threads int
	limit   int
	timeout time.Duration
	signal  chan struct{} // one token per job queued while a goroutine idles
}

// NewPool returns a pool of at most maxThreads goroutines, each of
// which exits after idleTimeout without work. It panics if maxThreads < 1 or
// idleTimeout <= 0.
func NewPool(maxThreads int, idleTimeout time.Duration) *Pool {
	if maxThreads < 1 || idleTimeout <= 0 {
		panic(fmt.Sprintf("blocking: NewPool(%d, %v): want maxThreads >= 1 and idleTimeout > 0", maxThreads, idleTimeout))
	}
	return &Pool{limit: maxThreads, timeout: idleTimeout, signal: make(chan struct{}, maxThreads)}
}

// DefaultMaxThreads is the default pool's limit unless the
// environment variable SMOL_MAX_BLOCKING_THREADS holds an integer in
// 1..10000 when the pool is first used.
const DefaultMaxThreads = 500

// Default returns the default pool, made on first use, which [Unblock]
// runs calls on.
var Default = sync.OnceValue(func() *Pool {
	return NewPool(env.Int("SMOL_MAX_BLOCKING_THREADS", DefaultMaxThreads, 10000), 500*time.Millisecond)
})

// Threads reports how many goroutines the pool has, busy or idle.
func (p *Pool) Threads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.threads
}

func (p *Pool) submit(job func()) {
	p.mu.Lock()
	p.queue = append(p.queue, job)
	if p.idle > 0 {
		// A full channel already holds a token for every idle goroutine.
		select {
		case p.signal <- struct{}{}:
		default:
		}
	}
	// Grow while more jobs wait than idle goroutines can take.
	if len(p.queue) > p.idle && p.threads < p.limit {
		p.threads++
		go p.work()
	}
	p.mu.Unlock()
}

func (p *Pool) work() {
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	p.mu.Lock()
	for {
		// Run queued jobs until none is left.
		if len(p.queue) > 0 {
			job := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.mu.Unlock()
			job()
			p.mu.Lock()
			continue
		}
		// Idle: wait for a signal or the timeout. Stale signals only cost a
		// look at an empty queue.
		p.idle++
		p.mu.Unlock()
		t.Reset(p.timeout)
		timedOut := false
		select {
		case <-p.signal:
		case <-t.C:
			timedOut = true
		}
		p.mu.Lock()
		p.idle--
		if timedOut && len(p.queue) == 0 {
			p.threads--
			p.mu.Unlock()
			return
		}
	}
}

type blockingCall[T any] struct {
	done  atomic.Bool
	out   T
	err   error
	panic *smol.PanicError
	mu    sync.Mutex // guards w
	w     smol.Waker
}

func (b *blockingCall[T]) Poll(cx *smol.Context) (T, bool, error) {
	if !b.done.Load() {
		b.mu.Lock()
		b.w = cx.Waker()
		b.mu.Unlock()
		// The job sets done before it takes mu to read w: either it sees
		// this waker or this load sees done.
		if !b.done.Load() {
			cx.WaitingOn(b, smol.WaitBlocking)
			var zero T
			return zero, false, nil
		}
	}
	if b.panic != nil {
		panic(b.panic)
	}
	return b.out, true, b.err
}

func (b *blockingCall[T]) String() string { return "the blocking pool" }

// UnblockOn starts fn on pool at once and returns a future of its value and
// error. If fn panics, polling the future panics with a [*smol.PanicError]
// carrying the value and fn's stack. The call runs to its end even if the
// future is dropped: a blocking call cannot be interrupted.
func UnblockOn[T any](pool *Pool, fn func() (T, error)) smol.Future[T] {
	b := &blockingCall[T]{}
	pool.submit(func() {
		defer func() {
			if r := recover(); r != nil {
				b.panic = &smol.PanicError{Value: r, Stack: debug.Stack()}
			}
			b.done.Store(true)
			b.mu.Lock()
			w := b.w
			b.mu.Unlock()
			if w != nil {
				w.Wake()
			}
		}()
		b.out, b.err = fn()
	})
	return b
}

// Unblock is UnblockOn with the default pool, whose limit is
// [DefaultMaxThreads] goroutines and whose goroutines exit after
// 500ms idle:
//
//	data, err := smol.BlockOn(blocking.Unblock(func() ([]byte, error) { return os.ReadFile(name) }))
func Unblock[T any](fn func() (T, error)) smol.Future[T] { return UnblockOn(Default(), fn) }
