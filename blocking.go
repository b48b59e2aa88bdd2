package smol

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// BlockingPool runs blocking functions on a bounded set of goroutines, so
// that tasks can await blocking calls (file I/O, cgo, DNS) without blocking
// an executor. The pool starts a goroutine when work is queued and none is
// idle, up to its limit; beyond the limit, work waits in a FIFO queue. A
// goroutine idle for the pool's idle timeout exits.
type BlockingPool struct {
	mu      sync.Mutex
	queue   []func()
	idle    int
	threads int
	limit   int
	timeout time.Duration
	signal  chan struct{} // one token per job queued while a goroutine idles
}

// NewBlockingPool returns a pool of at most maxThreads goroutines, each of
// which exits after idleTimeout without work. It panics if maxThreads < 1 or
// idleTimeout <= 0.
func NewBlockingPool(maxThreads int, idleTimeout time.Duration) *BlockingPool {
	if maxThreads < 1 || idleTimeout <= 0 {
		panic(fmt.Sprintf("smol: NewBlockingPool(%d, %v): want maxThreads >= 1 and idleTimeout > 0", maxThreads, idleTimeout))
	}
	return &BlockingPool{limit: maxThreads, timeout: idleTimeout, signal: make(chan struct{}, maxThreads)}
}

// DefaultMaxBlockingThreads is the default pool's limit unless the
// environment variable SMOL_MAX_BLOCKING_THREADS holds an integer in
// 1..10000 when the pool is first used.
const DefaultMaxBlockingThreads = 500

var defaultPool = sync.OnceValue(func() *BlockingPool {
	return NewBlockingPool(envInt("SMOL_MAX_BLOCKING_THREADS", DefaultMaxBlockingThreads, 10000), 500*time.Millisecond)
})

// envInt reads a positive integer setting; a malformed value is reported on
// stderr and the default used, as a bad setting should not crash a program.
func envInt(name string, def, limit int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		fmt.Fprintf(os.Stderr, "smol: ignoring %s=%q: want an integer in 1..%d; using %d\n", name, s, limit, def)
		return def
	}
	return n
}

// Threads reports how many goroutines the pool has, busy or idle.
func (p *BlockingPool) Threads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.threads
}

func (p *BlockingPool) submit(job func()) {
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

func (p *BlockingPool) work() {
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
	panic *PanicError
	mu    sync.Mutex // guards w
	w     Waker
}

func (b *blockingCall[T]) Poll(cx *Context) (T, bool, error) {
	if !b.done.Load() {
		b.mu.Lock()
		b.w = cx.Waker()
		b.mu.Unlock()
		// The job sets done before it takes mu to read w: either it sees
		// this waker or this load sees done.
		if !b.done.Load() {
			cx.WaitingOn(b, WaitBlocking)
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
// error. If fn panics, polling the future panics with a [*PanicError]
// carrying the value and fn's stack. The call runs to its end even if the
// future is dropped: a blocking call cannot be interrupted.
func UnblockOn[T any](pool *BlockingPool, fn func() (T, error)) Future[T] {
	b := &blockingCall[T]{}
	pool.submit(func() {
		defer func() {
			if r := recover(); r != nil {
				b.panic = &PanicError{Value: r, Stack: debug.Stack()}
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
// [DefaultMaxBlockingThreads] goroutines and whose goroutines exit after
// 500ms idle:
//
//	data, err := smol.BlockOn(smol.Unblock(func() ([]byte, error) { return os.ReadFile(name) }))
func Unblock[T any](fn func() (T, error)) Future[T] { return UnblockOn(defaultPool(), fn) }
