package lock

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// StarvationBound is how long a [Mutex] waiter may lose the lock to newer
// arrivals before the Mutex turns fair for it: after waiting this long, the
// waiter is counted as starved, from then on no new caller takes the lock
// past it, and it gets the lock at the next unlock (or one of the starved
// waiters does, if several are starved). The value is Rust's async-lock's.
const StarvationBound = 500 * time.Microsecond

// Mutex is a mutual-exclusion lock whose lock operation is a future, so
// that a task waiting for it is pending rather than blocking its
// goroutine. The zero Mutex is unlocked. A Mutex must not be copied after
// first use. As with sync.Mutex, a locked Mutex is not tied to a task or
// goroutine: one may lock it and another unlock it.
//
// # Fairness
//
// The Mutex is eventually fair. A caller that finds it unlocked takes it at
// once, even past waiters (barging, which keeps the lock busy and fast).
// Waiters are woken one at a time, oldest first, at each Unlock; a woken
// waiter that loses the race to a newer caller waits again. But once a
// waiter has waited longer than [StarvationBound], it marks itself starved,
// which shuts the fast path: from then on only woken waiters can take the
// lock, and the starved one takes it at the next Unlock (with several
// starved waiters, one of them does). The bound is checked when the waiter
// is woken, so it is a bound on losses, not a timer.
type Mutex struct {
	// state is 1 while locked, plus 2 for each starved waiter. The fast
	// path takes the lock only by the CAS 0 -> 1, which fails while any
	// waiter is starved.
	state atomic.Int64
	// lockOps is notified (one listener) at each Unlock.
	lockOps event.Event
}

// TryLock locks m if it is unlocked and no waiter is starved, without
// waiting, and reports whether it did.
func (m *Mutex) TryLock() bool { return m.state.CompareAndSwap(0, 1) }

// Unlock unlocks m and wakes one waiter. It panics if m is not locked.
func (m *Mutex) Unlock() {
	// The atomic decrement publishes the critical section's writes to the
	// next locker, whose CAS or Or reads this value.
	if m.state.Add(-1)&1 != 0 {
		m.state.Add(1)
		panic("lock: Unlock of unlocked Mutex")
	}
	m.lockOps.Notify(1)
}

// Acquire returns a future that is ready once the caller holds m. The
// caller then releases m with [Mutex.Unlock]. An Acquire future abandoned
// before it is ready must be discarded ([LockFuture.Discard]).
//
// There is no Lock method: "mu.Lock(); defer mu.Unlock()", the sync.Mutex
// habit, would compile with a Lock that returns a future and lock nothing.
// Without it, that line does not compile. Goroutine code uses
// [Mutex.LockBlocking].
func (m *Mutex) Acquire() *LockFuture { return &LockFuture{m: m} }

// LockBlocking locks m, blocking the calling goroutine until it can. It is
// for goroutines, not for use inside a poll.
func (m *Mutex) LockBlocking() {
	if m.TryLock() {
		return
	}
	f := lockFutures.Get().(*LockFuture)
	f.Reset(m)
	_, _ = smol.BlockOn(f) // a lock future does not fail
	lockFutures.Put(f)
}

// LockContext locks m, blocking the calling goroutine until it can or ctx
// is done. It returns nil with m locked, or ctx.Err() with m not locked by
// this call.
func (m *Mutex) LockContext(ctx context.Context) error {
	if m.TryLock() {
		return nil
	}
	f := lockFutures.Get().(*LockFuture)
	f.Reset(m)
	_, err := waitContext(ctx, f)
	lockFutures.Put(f)
	return err
}

var lockFutures = sync.Pool{New: func() any { return new(LockFuture) }}

// LockFuture is a lock operation in progress, returned by [Mutex.Acquire]: a
// [smol.Future] that is ready once the caller holds the Mutex.
//
// The zero LockFuture is not usable; [LockFuture.Reset] makes it ready to
// lock a Mutex, so that one embedded in a longer-lived future serves many
// lock operations without allocating.
type LockFuture struct {
	m       *Mutex
	l       event.Listener
	start   time.Time // when it first had to wait
	starved bool      // counted in m.state as a starved waiter
}

// Reset prepares f to lock m, discarding the lock operation f was doing if
// it was still waiting.
func (f *LockFuture) Reset(m *Mutex) {
	f.Discard()
	f.m, f.start = m, time.Time{}
}

// Poll tries to lock the Mutex; see [Mutex] for the order in which waiters
// get it. Each poll spends a unit of the task's budget (see
// smol.Context.Proceed); the starvation bound is measured on the task's
// driver's clock.
func (f *LockFuture) Poll(cx *smol.Context) (struct{}, bool, error) {
	return acquire(cx, f.m, f)
}

func (f *LockFuture) try(cx *smol.Context) bool {
	m := f.m
	if !f.starved {
		// Phase one: compete with every caller, waiting in line for wakes.
		for {
			if f.l.Listening() {
				if _, ok, _ := f.l.Poll(cx); !ok {
					return false
				}
				// Woken by an Unlock: try, unless a starved waiter is owed
				// the lock, in which case pass the wake to the line (the
				// starved waiter is in it) and turn starved too.
				s, ok := m.cas(0, 1)
				if ok {
					return true
				}
				if s != 1 {
					m.lockOps.Notify(1)
					break
				}
				if cx.Driver().Now().Sub(f.start) > StarvationBound {
					break
				}
			} else if f.start.IsZero() {
				// First poll: the fast path.
				if m.TryLock() {
					return true
				}
				f.start = cx.Driver().Now()
			}
			// Listen, then try once more before waiting.
			f.l.ListenToWith(&m.lockOps, cx.Waker())
			s, ok := m.cas(0, 1)
			if ok {
				f.l.Discard()
				return true
			}
			if s == 1 {
				return false
			}
			// A waiter is starved: join it.
			f.l.Discard()
			break
		}
		// Turn starved: the fast path is shut while the count is nonzero.
		m.state.Add(2)
		f.starved = true
	}
	// Phase two, starved: only woken waiters take the lock now.
	for {
		if f.l.Listening() {
			if _, ok, _ := f.l.Poll(cx); !ok {
				return false
			}
			// Woken by an Unlock: take the lock if it is free.
			if m.state.Or(1)&1 == 0 {
				f.leaveStarved()
				return true
			}
		}
		f.l.ListenToWith(&m.lockOps, cx.Waker())
		// Take the lock if it is free and no one else is starved.
		s, ok := m.cas(2, 3)
		if ok {
			f.l.Discard()
			f.leaveStarved()
			return true
		}
		if s&1 == 0 {
			// Free, but other waiters are starved: wake the first in line
			// to take it. We wait for the next wake.
			m.lockOps.Notify(1)
		}
		return false
	}
}

func (f *LockFuture) leaveStarved() {
	f.m.state.Add(-2)
	f.starved = false
}

// cas is CompareAndSwap that also returns the value it found.
func (m *Mutex) cas(old, new int64) (int64, bool) {
	for {
		if m.state.CompareAndSwap(old, new) {
			return old, true
		}
		if s := m.state.Load(); s != old {
			return s, false
		}
	}
}

// Discard gives up the lock operation if it is not complete: f leaves the
// line of waiters, and a wake it had received and not used is passed on.
// Discarding a future that is ready does nothing (the caller holds the
// lock and must Unlock it); discarding twice does nothing.
func (f *LockFuture) Discard() {
	f.l.Discard()
	if f.starved {
		f.leaveStarved()
		// With one fewer starved waiter the lock may be free for the others
		// or the fast path: make sure someone looks.
		f.m.lockOps.Notify(1)
	}
}

// waitContext awaits f on the calling goroutine until it is ready or ctx is
// done; in the second case f is discarded (by smol.Wait) and ctx.Err()
// returned.
func waitContext[T any](ctx context.Context, f smol.Future[T]) (T, error) {
	if ctx.Done() == nil {
		return smol.BlockOn(f)
	}
	return smol.Wait(ctx, f)
}

// String describes the mutex for task dumps: "lock.Mutex (locked, 1
// starved)".
func (m *Mutex) String() string {
	s := m.state.Load()
	str := "lock.Mutex (unlocked"
	if s&1 != 0 {
		str = "lock.Mutex (locked"
	}
	if s >= 2 {
		str += ", " + strconv.FormatInt(s/2, 10) + " starved"
	}
	return str + ")"

}
