package smol

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol/internal/poller"
)

// The reactor turns readiness of file descriptors into wakes. There is one
// per process, created on first use, shared by every executor as the Go
// runtime's netpoll is; time is not its business (each executor's
// [Driver] keeps its own timers).
//
// Who waits in the poller. At most one goroutine at a time holds the
// reactor lock and blocks in the poller; any goroutine that would otherwise
// park (BlockOn, an idle executor worker, Run on a LocalExecutor) tries to
// become that goroutine, and the others park on their own channels. When
// the holder is woken it releases the lock and hands it to one parked
// goroutine, which takes over. A goroutine inside such a loop is a driver
// (see drivers); while there is one, the reactor is attended: it either
// runs tasks, and polls the reactor every 61 of them, or parks, and drives
// the poller. A fallback goroutine drives the reactor only when no driver
// is left and descriptors are registered (see fallback), so that tasks
// ticked by hand still see their I/O, without standing in the hot path and
// without waking an idle process.
//
// A wake that arrives while its goroutine is blocked in the poller writes to
// the poller's wake-up fd; the poller deduplicates these writes.
type reactor struct {
	p     *poller.Poller
	lock  atomic.Bool   // held by the goroutine driving the poller
	ticks atomic.Uint64 // completed polls, read by the fallback
	nfds  atomic.Int64  // registered descriptors

	// The fallback's state: whether it runs, whether it holds the
	// poller, and the channel (capacity 1) that wakes it when the last
	// driver leaves or the last descriptor is released.
	fbRunning atomic.Bool
	fbHold    atomic.Bool
	fbKick    chan struct{}
	fbRuns    atomic.Uint64 // times the fallback took the poller, for tests
	events    []poller.Event
	wakers    []Waker // wakes collected during one react, owned by the lock holder

	// wmu guards waiting: parked goroutines that would drive the poller.
	wmu     sync.Mutex
	waiting []*parker

	// smu guards the source table. A key is a slot index plus the slot's
	// generation, so an event for a closed source, even one still in a
	// batch when its fd number is reused, finds a different generation.
	// The table grows a chunk at a time: it is never copied, and the
	// memory of an idle connection does not depend on when it came.
	smu    sync.RWMutex
	chunks []*sourceChunk
	nslots uint32   // slots handed out so far, free or not
	free   []uint32 // released slots, reused last-in first-out
}

// chunkBits sets the size of a chunk of the source table: 1,024 slots,
// 12 KiB.
const (
	chunkBits = 10
	chunkMask = 1<<chunkBits - 1
)

type sourceChunk struct {
	fds  [1 << chunkBits]*FD
	gens [1 << chunkBits]uint32
}

// insert gives f a slot and returns its poller key.
func (r *reactor) insert(f *FD) uint64 {
	r.smu.Lock()
	defer r.smu.Unlock()
	if n := len(r.free); n > 0 {
		f.idx, r.free = r.free[n-1], r.free[:n-1]
	} else {
		if r.nslots>>chunkBits == uint32(len(r.chunks)) {
			r.chunks = append(r.chunks, new(sourceChunk))
		}
		f.idx = r.nslots
		r.nslots++
	}
	c := r.chunks[f.idx>>chunkBits]
	c.fds[f.idx&chunkMask] = f
	r.nfds.Add(1)
	return uint64(c.gens[f.idx&chunkMask])<<32 | uint64(f.idx)
}

var (
	theReactor atomic.Pointer[reactor]
	reactorMu  sync.Mutex
)

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
	r := &reactor{p: p, events: make([]poller.Event, 256), fbKick: make(chan struct{}, 1)}
	theReactor.Store(r)
	return r, nil
}

// react waits in the poller for at most timeout (negative: until an event
// or a notification), then wakes everything that became ready. The caller
// holds the lock. If the caller is a parker, it leaves its polling state
// right after the wait and before any wake, so that wakes of its own
// goroutine cost no syscall.
func (r *reactor) react(timeout time.Duration, p *parker) {
	// Wait. An error other than EINTR (which the poller reports as zero
	// events) would repeat forever, so it is fatal.
	n, err := r.p.Wait(r.events, timeout)
	r.ticks.Add(1)
	if p != nil {
		p.state.CompareAndSwap(pPolling, pIdle)
	}
	if err != nil {
		panic(fmt.Sprintf("smol: reactor poll failed: %v", err))
	}
	ws := r.dispatch(r.events[:n], r.wakers[:0])
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
		if i < r.nslots {
			if c := r.chunks[i>>chunkBits]; c.gens[i&chunkMask] == gen && c.fds[i&chunkMask] != nil {
				ws = c.fds[i&chunkMask].ready(ev, ws)
			}
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
// queue that never empties does not starve I/O.
func pollReactor() {
	if r := theReactor.Load(); r != nil && r.tryLock() {
		r.react(0, nil)
		r.unlock()
	}
}

// drivers counts the goroutines inside a loop that parks with a parker:
// Run, Tick, BlockOn and Wait. Each adds itself on entry and leaves on
// return; the last to leave wakes the fallback.
var drivers atomic.Int32

func enterDriving() { drivers.Add(1) }

func leaveDriving() {
	if drivers.Add(-1) == 0 {
		if r := theReactor.Load(); r != nil {
			r.kickFallback()
		}
	}
}

func (r *reactor) kickFallback() {
	select {
	case r.fbKick <- struct{}{}:
	default: // a kick is already pending
	}
}

// startFallback starts the fallback goroutine unless it runs; register
// calls it for every new descriptor.
func (r *reactor) startFallback() {
	if !r.fbRunning.Load() && r.fbRunning.CompareAndSwap(false, true) {
		go r.fallback()
	}
}

// The fallback's backoff while nobody drives the reactor but someone polls
// it now and then (a hand-ticked executor's TryTick loop).
const (
	fbMinBackoff = 50 * time.Microsecond
	fbMaxBackoff = 10 * time.Millisecond
)

// fallback drives the reactor when no driver does. Its states:
//
//	no descriptor registered  nothing to poll: it exits (register starts a new one)
//	a driver exists           attended: it waits for a kick, with no timer
//	no driver                 it checks on a backoff from 50µs to 10ms whether
//	                          anyone has polled since its last look; if nobody
//	                          has and the poller is free, it blocks in the
//	                          poller itself until a parked goroutine wants the
//	                          poller, or the last descriptor is released
//
// So an idle process, whose drivers are parked in the poller or which has
// no driver and no I/O, makes no wake-ups at all.
func (r *reactor) fallback() {
	t := time.NewTimer(time.Hour)
	t.Stop()
	backoff := fbMinBackoff
	last := r.ticks.Load()
	for {
		// Exit when there is nothing to poll. A descriptor registered as
		// we leave sees fbRunning false and starts a new fallback, unless
		// we take the flag back first and stay.
		if r.nfds.Load() == 0 {
			r.fbRunning.Store(false)
			if r.nfds.Load() == 0 || !r.fbRunning.CompareAndSwap(false, true) {
				return
			}
		}
		// Attended: sleep until the last driver leaves (or the last
		// descriptor goes).
		if drivers.Load() > 0 {
			<-r.fbKick
			backoff, last = fbMinBackoff, r.ticks.Load()
			continue
		}
		// Unattended: look again after the backoff.
		t.Reset(backoff)
		select {
		case <-t.C:
		case <-r.fbKick:
			t.Stop()
			continue
		}
		if cur := r.ticks.Load(); cur != last || drivers.Load() > 0 || !r.tryLock() {
			last = cur
			backoff = min(backoff*2, fbMaxBackoff)
			continue
		}
		// Nobody polls: block in the poller until a parked goroutine wants
		// it (park notifies the poller when fbHold is set) or the last
		// descriptor is released (release notifies it too).
		r.fbHold.Store(true)
		r.fbRuns.Add(1)
		for {
			r.react(-1, nil)
			r.wmu.Lock()
			wanted := len(r.waiting) > 0
			r.wmu.Unlock()
			if wanted || r.nfds.Load() == 0 {
				break
			}
		}
		r.fbHold.Store(false)
		r.unlock()
		last = r.ticks.Load()
		backoff = fbMinBackoff
	}
}
