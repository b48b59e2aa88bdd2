package smol

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol/internal/poller"
)

// The reactor turns readiness of file descriptors and expiry of timers into
// wakes. There is one per process, created on first use.
//
// Who waits in the poller. At most one goroutine at a time holds the
// reactor lock and blocks in the poller; any goroutine that would otherwise
// park (BlockOn, an idle executor worker, Run on a LocalExecutor) tries to
// become that goroutine, and the others park on their own channels. When
// the holder is woken it releases the lock and hands it to one parked
// goroutine, which takes over. A fallback goroutine drives the reactor only
// when nobody else has for a while (see fallback), so that tasks ticked by
// hand still see their I/O, without standing in the hot path.
//
// A wake that arrives while its goroutine is blocked in the poller writes to
// the poller's wake-up fd; the poller deduplicates these writes.
type reactor struct {
	p      *poller.Poller
	lock   atomic.Bool   // held by the goroutine driving the poller
	fbHold atomic.Bool   // the lock holder is the fallback goroutine
	fbRuns atomic.Uint64 // times the fallback took the poller, for tests
	ticks  atomic.Uint64 // completed polls, read by the fallback
	events []poller.Event
	wakers []Waker // wakes collected during one react, owned by the lock holder

	// wmu guards waiting: parked goroutines that would drive the poller.
	wmu     sync.Mutex
	waiting []*parker

	// smu guards the source table. A key is a slot index plus the slot's
	// generation, so an event for a closed source, even one still in a
	// batch when its fd number is reused, finds a different generation.
	smu     sync.RWMutex
	sources []*FD
	gens    []uint32
	free    []uint32

	// tmu guards the timer heap. deadline is the wake-up time the driver
	// is sleeping until (math.MaxInt64 if none), so that a timer inserted
	// before it can interrupt the wait.
	tmu      sync.Mutex
	timers   timerHeap
	deadline atomic.Int64

	// clock is the only reader of the clock: nanoseconds since base, on the
	// monotonic clock. A virtual clock replaces it.
	clock func() int64
	base  time.Time
}

var (
	theReactor atomic.Pointer[reactor]
	reactorMu  sync.Mutex
)

const noDeadline = int64(1<<63 - 1)

// getReactor returns the process's reactor, creating it on first use.
func getReactor() (*reactor, error) {
	if r := theReactor.Load(); r != nil {
		return r, nil
	}
	reactorMu.Lock()
	defer reactorMu.Unlock()
	if r := theReactor.Load(); r != nil {
		return r, nil
	}
	p, err := poller.New()
	if err != nil {
		return nil, fmt.Errorf("smol: starting the reactor: %w", err)
	}
	base := time.Now()
	r := &reactor{p: p, events: make([]poller.Event, 256), base: base, clock: func() int64 { return int64(time.Since(base)) }}
	r.deadline.Store(noDeadline)
	theReactor.Store(r)
	go r.fallback()
	return r, nil
}

// mustReactor is getReactor for callers with no error path (timers). The
// reactor fails to start only if the process cannot create an epoll or
// kqueue descriptor, which leaves nothing sensible to do.
func mustReactor() *reactor {
	r, err := getReactor()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		panic(err)
	}
	return r
}

func (r *reactor) now() int64 { return r.clock() }

// at converts a wall-clock time to the reactor clock.
func (r *reactor) at(t time.Time) int64 { return int64(t.Sub(r.base)) }

// react waits in the poller for at most timeout (negative: until an event,
// a notification or the next timer), then wakes everything that became
// ready. The caller holds the lock. If the caller is a parker, it leaves its
// polling state right after the wait and before any wake, so that wakes of
// its own goroutine cost no syscall.
func (r *reactor) react(timeout time.Duration, p *parker) {
	// Fire due timers first; if any fired, do not block.
	ws := r.fireTimers(r.wakers[:0])
	next := r.nextTimer()
	if len(ws) > 0 {
		timeout = 0
	} else if next != noDeadline {
		if d := time.Duration(next - r.now()); timeout < 0 || d < timeout {
			timeout = max(d, 0)
		}
	}
	if timeout != 0 {
		r.deadline.Store(next)
	}

	// Wait. An error other than EINTR (which the poller reports as zero
	// events) would repeat forever, so it is fatal.
	n, err := r.p.Wait(r.events, timeout)
	r.deadline.Store(noDeadline)
	r.ticks.Add(1)
	if p != nil {
		p.state.CompareAndSwap(pPolling, pIdle)
	}
	if err != nil {
		panic(fmt.Sprintf("smol: reactor poll failed: %v", err))
	}

	ws = r.dispatch(r.events[:n], ws)
	if timeout != 0 {
		ws = r.fireTimers(ws)
	}

	for i, w := range ws {
		w.Wake()
		ws[i] = nil
	}
	r.wakers = ws[:0]
}

// dispatch turns readiness into wakes. An event whose key names a slot of
// another generation belongs to a source closed since the event was queued
// (its fd number may already be reused): it is dropped.
func (r *reactor) dispatch(events []poller.Event, ws []Waker) []Waker {
	r.smu.RLock()
	for _, ev := range events {
		i, gen := uint32(ev.Key), uint32(ev.Key>>32)
		if int(i) < len(r.sources) && r.gens[i] == gen {
			ws = r.sources[i].ready(ev, ws)
		}
	}
	r.smu.RUnlock()
	return ws
}

// tryLock takes the right to drive the poller if it is free.
func (r *reactor) tryLock() bool { return r.lock.CompareAndSwap(false, true) }

// unlock releases the poller and wakes one parked goroutine to take it.
func (r *reactor) unlock() {
	r.lock.Store(false)
	r.wmu.Lock()
	var next *parker
	if n := len(r.waiting); n > 0 {
		next = r.waiting[n-1]
		r.waiting = r.waiting[:n-1]
	}
	r.wmu.Unlock()
	if next != nil {
		next.unpark()
	}
}

func (r *reactor) addWaiting(p *parker) {
	r.wmu.Lock()
	r.waiting = append(r.waiting, p)
	r.wmu.Unlock()
}

func (r *reactor) removeWaiting(p *parker) {
	r.wmu.Lock()
	for i, q := range r.waiting {
		if q == p {
			r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
			break
		}
	}
	r.wmu.Unlock()
}

// pollReactor runs one non-blocking round of the reactor, if there is one
// and nobody is driving it. Busy executors call it every 61 tasks so that a
// queue that never empties does not starve I/O and timers.
func pollReactor() {
	if r := theReactor.Load(); r != nil && r.tryLock() {
		r.react(0, nil)
		r.unlock()
	}
}

// fallback drives the reactor when nobody else does: it checks on a backoff
// from 50µs to 10ms whether anyone has completed a poll since its last look,
// and if nobody has and the poller is free, it blocks in the poller itself
// until a parked goroutine wants the poller back.
func (r *reactor) fallback() {
	backoff := 50 * time.Microsecond
	t := time.NewTimer(backoff)
	last := r.ticks.Load()
	for {
		<-t.C
		if cur := r.ticks.Load(); cur != last || !r.tryLock() {
			last = cur
			backoff = min(backoff*2, 10*time.Millisecond)
			t.Reset(backoff)
			continue
		}
		r.fbHold.Store(true)
		r.fbRuns.Add(1)
		for {
			r.react(-1, nil)
			r.wmu.Lock()
			wanted := len(r.waiting) > 0
			r.wmu.Unlock()
			if wanted {
				break
			}
		}
		r.fbHold.Store(false)
		r.unlock()
		last = r.ticks.Load()
		backoff = 50 * time.Microsecond
		t.Reset(backoff)
	}
}
