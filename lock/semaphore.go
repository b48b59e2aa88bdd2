package lock

import (
	"context"
	"fmt"
	"sync"

	"github.com/smolgo/smol"
)

// Semaphore is a counting semaphore whose acquire operation is a future:
// it holds a number of permits, Acquire(n) waits until it can take n of
// them, and Release(n) returns n.
//
// Waiters are served strictly in the order they started to wait, and a
// caller that finds others waiting waits behind them (no barging), so a
// request for many permits is not starved by a stream of small ones; the
// other side of this is that small requests wait behind a large one at the
// front, as with golang.org/x/sync/semaphore.Weighted.
//
// The zero Semaphore has no permits; [NewSemaphore] creates one with some.
// There is no upper limit: Release may add permits that were never
// acquired. A Semaphore must not be copied after first use.
type Semaphore struct {
	mu         sync.Mutex
	avail      int64      // permits not held; guarded by mu
	head, tail *semWaiter // waiters, oldest first; guarded by mu
}

// semWaiter is one waiting acquire, linked into the Semaphore's line. All
// its fields are guarded by the Semaphore's mu.
type semWaiter struct {
	n          int64
	prev, next *semWaiter
	waker      smol.Waker
	queued     bool // in the line
	granted    bool // taken out of the line with its permits
}

// NewSemaphore returns a Semaphore holding n permits. It panics if n < 0.
func NewSemaphore(n int64) *Semaphore {
	if n < 0 {
		panic(fmt.Sprintf("lock: NewSemaphore(%d): negative permits", n))
	}
	return &Semaphore{avail: n}
}

// TryAcquire takes n permits if they are available and no one is waiting,
// without waiting, and reports whether it did. TryAcquire(0) succeeds
// unless someone is waiting.
func (s *Semaphore) TryAcquire(n int64) bool {
	checkPermits("TryAcquire", n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head == nil && s.avail >= n {
		s.avail -= n
		return true
	}
	return false
}

// Release returns n permits and hands them to waiters in order, as many as
// they cover. It panics if n < 0.
func (s *Semaphore) Release(n int64) {
	checkPermits("Release", n)
	s.mu.Lock()
	s.avail += n
	s.grantLocked()
}

// grantLocked hands permits to the waiters at the front of the line while
// they fit, then unlocks s.mu and wakes them.
func (s *Semaphore) grantLocked() {
	var wakers [8]smol.Waker
	nw := 0
	for w := s.head; w != nil && w.n <= s.avail; w = s.head {
		s.avail -= w.n
		s.unlinkLocked(w)
		w.granted = true
		if w.waker != nil {
			if nw == len(wakers) {
				// Many at once: wake the batch now (wakers never block or
				// run user code) and start another.
				for _, k := range wakers {
					k.Wake()
				}
				nw = 0
			}
			wakers[nw] = w.waker
			nw++
			w.waker = nil
		}
	}
	s.mu.Unlock()
	for _, k := range wakers[:nw] {
		k.Wake()
	}
}

func (s *Semaphore) unlinkLocked(w *semWaiter) {
	if w.prev == nil {
		s.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		s.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
}

func checkPermits(op string, n int64) {
	if n < 0 {
		panic(fmt.Sprintf("lock: Semaphore.%s(%d): negative permits", op, n))
	}
}

// Acquire returns a future that is ready once the caller holds n permits,
// which it returns with [Semaphore.Release]. It panics if n < 0. An
// Acquire future abandoned before it is ready must be discarded
// ([AcquireFuture.Discard]).
func (s *Semaphore) Acquire(n int64) *AcquireFuture {
	checkPermits("Acquire", n)
	return &AcquireFuture{s: s, w: semWaiter{n: n}}
}

// AcquireBlocking takes n permits, blocking the calling goroutine until it
// can. It is for goroutines, not for use inside a poll.
func (s *Semaphore) AcquireBlocking(n int64) {
	if s.TryAcquire(n) {
		return
	}
	f := acquireFutures.Get().(*AcquireFuture)
	f.Reset(s, n)
	_, _ = smol.BlockOn(f) // an acquire future does not fail
	acquireFutures.Put(f)
}

// AcquireContext takes n permits, blocking the calling goroutine until it
// can or ctx is done. It returns nil holding the permits, or ctx.Err()
// holding none; in the second case the Semaphore is as if the call had not
// been made.
func (s *Semaphore) AcquireContext(ctx context.Context, n int64) error {
	if s.TryAcquire(n) {
		return nil
	}
	f := acquireFutures.Get().(*AcquireFuture)
	f.Reset(s, n)
	_, err := waitContext(ctx, f)
	acquireFutures.Put(f)
	return err
}

var acquireFutures = sync.Pool{New: func() any { return new(AcquireFuture) }}

// AcquireFuture is an acquire operation in progress, returned by
// [Semaphore.Acquire]: a [smol.Future] that is ready once the caller holds
// the permits. The zero AcquireFuture is not usable; [AcquireFuture.Reset]
// prepares one for reuse without allocating.
type AcquireFuture struct {
	s *Semaphore
	w semWaiter
}

// Reset prepares f to acquire n permits from s, discarding the operation f
// was doing if it was still waiting. It panics if n < 0.
func (f *AcquireFuture) Reset(s *Semaphore, n int64) {
	checkPermits("Acquire", n)
	f.Discard()
	f.s, f.w = s, semWaiter{n: n}
}

// Poll takes the permits if they are available and no one is ahead in line,
// and otherwise joins (or stays in) the line. Each poll spends a unit of
// the task's budget.
func (f *AcquireFuture) Poll(cx *smol.Context) (struct{}, bool, error) {
	return acquire(cx, f.s, f)
}

func (f *AcquireFuture) try(cx *smol.Context) bool {
	s, w := f.s, &f.w
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case w.granted:
		// Release handed us the permits.
		w.granted = false
		return true
	case w.queued:
		w.waker = cx.Waker()
		return false
	case s.head == nil && s.avail >= w.n:
		s.avail -= w.n
		return true
	}
	// Join the back of the line.
	w.waker, w.queued = cx.Waker(), true
	w.prev = s.tail
	if s.tail == nil {
		s.head = w
	} else {
		s.tail.next = w
	}
	s.tail = w
	return false
}

// Discard gives up the acquire operation if it is not complete: f leaves
// the line (letting the waiters behind it move up), and permits that were
// handed to it but not yet taken go back to the Semaphore. Discarding a
// future that is ready does nothing (the caller holds the permits).
func (f *AcquireFuture) Discard() {
	s, w := f.s, &f.w
	if s == nil {
		return
	}
	s.mu.Lock()
	switch {
	case w.granted:
		w.granted = false
		s.avail += w.n
	case w.queued:
		s.unlinkLocked(w)
		w.waker = nil
	default:
		s.mu.Unlock()
		return
	}
	// Permits came back, or the front of the line moved: serve whoever
	// now fits.
	s.grantLocked()
}

// String describes the semaphore for task dumps: "lock.Semaphore (2
// permits free, 3 waiting)".
func (s *Semaphore) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	waiting := 0
	for w := s.head; w != nil; w = w.next {
		waiting++
	}
	return fmt.Sprintf("lock.Semaphore (%d permits free, %d waiting)", s.avail, waiting)
}
