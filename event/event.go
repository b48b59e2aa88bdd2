// Package event provides [Event], a notification primitive for async code:
// tasks and goroutines wait for "something changed" and are woken when
// another party says so. It is the building block of the channel and lock
// packages of this module, and of any custom synchronisation a program
// needs, in the way an eventcount or a condition variable is.
//
// # Check, listen, re-check
//
// An Event carries no state of its own and keeps no permits: a notification
// with no one listening is lost. A waiter must therefore use this pattern,
// which loses nothing between the check and the listen:
//
//	for {
//		if ready() { break }     // check
//		l := ev.Listen()        // listen
//		if ready() {             // re-check: a change made before the
//			l.Discard()         // listener was registered is seen here
//			break
//		}
//		l.Wait()                // or await l as a future
//	}
//
// and the notifying side changes the state first and notifies second:
//
//	makeReady() // an atomic store, or a write under a mutex
//	ev.Notify(1)
//
// Why nothing is lost: registering a listener ends with an atomic write and
// notifying begins with an atomic read of the listener counts. Go's atomics
// are sequentially consistent, so either the notifier's read sees the new
// listener (and notifies it), or it came first, in which case the waiter's
// re-check comes after the notifier's state change and sees it. This is
// what the SeqCst fence in Rust's event-listener is for; Go needs no fence.
// The state itself must be changed with an atomic operation or under a
// mutex that the re-check also takes.
//
// # Listeners are futures
//
// A [*Listener] is a [smol.Future] of struct{}, ready once it is notified,
// and has blocking forms ([Listener.Wait], [Listener.WaitContext]) for
// ordinary goroutines. Listeners are notified in the order they were
// registered.
//
// # Discarding
//
// Go has no destructors, so a listener that is given up must be given up
// explicitly with [Listener.Discard]. A listener that was notified but not
// yet consumed passes its notification on when it is discarded, so that no
// wake is lost because its receiver stopped waiting. A listener that is
// simply forgotten stays registered (and referenced by the Event) until it
// is notified, and a notification it receives is then lost with it, like a
// mutex that is never unlocked. Polling a listener to ready, or a Wait that
// returns nil, consumes it: nothing remains to discard.
//
// A task canceled with Task.Cancel, or by closing its executor, discards
// its future, and the runtime's combinators forward the discard to the
// futures they hold: a Listener is a smol.Discarder, so one held that way is
// given up properly. A Listener held inside a future of your own must be
// discarded by that future's own Discard method.
//
// # Costs
//
// Listen allocates the Listener (ListenTo reuses one). A notify with no
// listener waiting is two atomic loads; otherwise it takes the Event's
// mutex. A notified listener is consumed without the mutex; a listener
// that has to wait takes it once to store its waker.
package event

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/smolgo/smol"
)

// All is a count that notifies every current listener: Notify(All).
const All = math.MaxInt

// Event wakes listeners. The zero value is an Event with no listeners,
// ready to use. An Event must not be copied after first use.
//
// Notify(n) makes sure that at least n listeners are notified: listeners
// notified earlier that have not yet consumed their notification count
// towards n. NotifyAdditional(n) notifies n more listeners that had not
// been notified. Use Notify when any one woken waiter can handle the
// change (it re-checks and passes the change on if it must), and
// NotifyAdditional when each call represents a new item for a new waiter,
// as a channel's send does.
type Event struct {
	mu         sync.Mutex
	head, tail *Listener // listeners not yet notified, oldest first; guarded by mu
	// The listener counts, read without mu by the fast paths of Notify and
	// NotifyAdditional; see the package documentation for why that loses no
	// notification. unnotified is written under mu. notified is raised
	// under mu and lowered without it, by the owner of a listener that
	// consumes or discards its notification.
	unnotified atomic.Int64 // listeners in the list
	notified   atomic.Int64 // listeners notified and not yet consumed
}

// A Listener's state. Only the notifier moves it from lsWaiting to a
// notified state, under the Event's mu, as it unlinks the listener; only
// the owner moves it from there to lsIdle, without the lock.
const (
	lsIdle               uint32 = iota // not registered
	lsWaiting                          // in the Event's list
	lsNotified                         // notified by Notify, not consumed
	lsNotifiedAdditional               // notified by NotifyAdditional, not consumed
)

// Listener is one registration with an [Event]. It is a [smol.Future] that
// is ready once the listener has been notified; being ready consumes the
// notification and unregisters the listener. A Listener may be reused: after
// it was consumed or discarded, [Listener.ListenTo] registers it again.
//
// The zero Listener is not registered. Polling or waiting on a Listener
// that is not registered panics: it would never be woken.
//
// A Listener belongs to one waiter: it must not be used from two
// goroutines at once (Discard included).
type Listener struct {
	ev         *Event // the Event it is registered with, or nil; owner only
	state      atomic.Uint32
	prev, next *Listener  // list links; guarded by ev.mu
	waker      smol.Waker // guarded by ev.mu; the waker of the latest poll
}

// Listen registers a new listener with e and returns it. The listener sees
// every notification made after Listen returns; see the package
// documentation for the check, listen, re-check pattern.
//
// Listen allocates the Listener; [Listener.ListenTo] registers one that the
// caller owns (for instance a field of a longer-lived future) and does not
// allocate.
func (e *Event) Listen() *Listener {
	l := new(Listener)
	l.ListenTo(e)
	return l
}

// ListenTo registers l with e, as [Event.Listen] does. If l is registered
// already (with e or another Event) it is discarded first, which passes on
// a notification it held.
func (l *Listener) ListenTo(e *Event) { l.ListenToWith(e, nil) }

// ListenToWith is ListenTo that also stores w as the waker to wake on
// notification, as a first Poll would. A future that listens with its
// task's waker and then re-checks its condition and finds it still false
// may return pending at once, without polling l, saving a lock.
func (l *Listener) ListenToWith(e *Event, w smol.Waker) {
	if l.ev != nil {
		l.Discard()
	}
	l.ev = e
	e.mu.Lock()
	l.state.Store(lsWaiting)
	l.waker = w
	l.prev, l.next = e.tail, nil
	if e.tail == nil {
		e.head = l
	} else {
		e.tail.next = l
	}
	e.tail = l
	// This atomic write is the one a notifier's fast path must observe; it
	// comes before the caller's re-check (see the package comment).
	e.unnotified.Add(1)
	e.mu.Unlock()
}

// Listening reports whether l is registered with an Event: it was given to
// Listen or ListenTo and has been neither consumed nor discarded since.
func (l *Listener) Listening() bool { return l.ev != nil }

// Notify makes sure that at least n listeners are notified, counting those
// notified earlier that have not yet consumed their notification, and
// returns how many it notified itself. Listeners are notified oldest first.
// Use [All] to notify every listener. n <= 0 does nothing.
func (e *Event) Notify(n int) int {
	// Fast path: nobody to notify, or enough already notified. These atomic
	// reads come after the caller's state change (see the package comment),
	// so a listener missed here re-checks after that change; and a notified
	// listener counted here consumes its notification after this read, so
	// it too re-checks after the change.
	if n <= 0 || e.unnotified.Load() == 0 || e.notified.Load() >= int64(n) {
		return 0
	}
	e.mu.Lock()
	// notified may drop while we hold mu (consumers do not take it); then
	// we notify more than needed, which costs a spurious wake, never a lost
	// one.
	return e.notifyLocked(int64(n)-e.notified.Load(), lsNotified)
}

// NotifyAdditional notifies n listeners that had not been notified yet,
// oldest first, and returns how many it notified (fewer if fewer were
// waiting). Use [All] to notify every listener. n <= 0 does nothing.
func (e *Event) NotifyAdditional(n int) int {
	if n <= 0 || e.unnotified.Load() == 0 {
		return 0
	}
	e.mu.Lock()
	return e.notifyLocked(int64(n), lsNotifiedAdditional)
}

// notifyLocked notifies up to k listeners from the head of the list, with
// e.mu held, and unlocks it. A notified listener leaves the list, so its
// owner consumes the notification without the lock. Wakers are woken after
// unlocking when there are few of them, so that a woken task that polls at
// once does not wait for e.mu; the rest are woken under the lock, which
// wakers allow (they never run user code).
func (e *Event) notifyLocked(k int64, state uint32) int {
	var wakers [8]smol.Waker
	nw, count := 0, 0
	for ; k > 0 && e.head != nil; k-- {
		l := e.head
		e.head = l.next
		if e.head == nil {
			e.tail = nil
		} else {
			e.head.prev = nil
		}
		w := l.waker
		l.next, l.waker = nil, nil
		// Count before publishing the state: the owner may consume the
		// notification (and lower notified) as soon as it sees the state.
		e.unnotified.Add(-1)
		e.notified.Add(1)
		l.state.Store(state)
		count++
		if w != nil {
			if nw < len(wakers) {
				wakers[nw] = w
				nw++
			} else {
				w.Wake()
			}
		}
	}
	e.mu.Unlock()
	for _, w := range wakers[:nw] {
		w.Wake()
	}
	return count
}

// String describes the event for task dumps: "event (3 listeners)".
func (e *Event) String() string {
	return "event (" + strconv.Itoa(e.Listeners()) + " listeners)"
}

// Listeners reports how many listeners are registered, notified or not.
// It is a snapshot, for tests and diagnostics.
func (e *Event) Listeners() int {
	return int(e.notified.Load() + e.unnotified.Load())
}

// unlinkLocked removes a waiting listener from e's list; e.mu is held.
func (e *Event) unlinkLocked(l *Listener) {
	if l.prev == nil {
		e.head = l.next
	} else {
		l.prev.next = l.next
	}
	if l.next == nil {
		e.tail = l.prev
	} else {
		l.next.prev = l.prev
	}
	l.prev, l.next, l.waker = nil, nil, nil
	e.unnotified.Add(-1)
}

// leave unregisters l, whatever its state, and returns the state it had:
// lsWaiting if it had not been notified, else the notified state, whose
// notification the caller now owns.
func (l *Listener) leave() uint32 {
	e := l.ev
	st := l.state.Load()
	if st == lsWaiting {
		e.mu.Lock()
		// Look again under the lock: a notifier may have got here first.
		if st = l.state.Load(); st == lsWaiting {
			e.unlinkLocked(l)
		}
		e.mu.Unlock()
	}
	if st != lsWaiting {
		e.notified.Add(-1)
	}
	l.state.Store(lsIdle)
	l.ev = nil
	return st
}

// Poll reports whether l has been notified. If it has, the notification is
// consumed and l is no longer registered; otherwise the waker of cx is
// stored (replacing the one of an earlier poll) and woken on notification.
// Poll panics if l is not registered.
func (l *Listener) Poll(cx *smol.Context) (struct{}, bool, error) {
	e := l.ev
	if e == nil {
		panic("event: Poll of a Listener that is not listening (never registered, already ready, or discarded)")
	}
	// A notified listener is off the list and is the owner's alone, so
	// consuming it needs no lock; the atomic load pairs with the notifier's
	// store, which it made after its last touch of l.
	if l.state.Load() == lsWaiting {
		e.mu.Lock()
		if l.state.Load() == lsWaiting {
			l.waker = cx.Waker()
			e.mu.Unlock()
			cx.WaitingOn(e, smol.WaitEvent)
			return struct{}{}, false, nil
		}
		e.mu.Unlock()
	}
	l.leave()
	return struct{}{}, true, nil
}

// Wait blocks the calling goroutine until l is notified, and consumes the
// notification. It is for goroutines, not for use inside a poll. Wait
// panics if l is not registered.
func (l *Listener) Wait() {
	smol.BlockOn(l)
}

// WaitContext is Wait that gives up when ctx is done: it returns nil once l
// is notified (consuming the notification) or ctx.Err() if ctx is done
// first. A notification that arrives as ctx is done is not lost: if l was
// notified by the time WaitContext gives up, it returns nil. On an error
// return l is no longer registered.
func (l *Listener) WaitContext(ctx context.Context) error {
	if ctx.Done() == nil {
		l.Wait()
		return nil
	}
	_, err := smol.Wait(ctx, l)
	if err == nil || l.ev == nil {
		return nil
	}
	// Giving up: a notification that came meanwhile is taken as success
	// rather than passed on, since the caller may now use it.
	if l.leave() != lsWaiting {
		return nil
	}
	return err
}

// Discard unregisters l. A notification l held and had not consumed is
// passed on: to the next listener by Notify(1) if it came from Notify, or by
// NotifyAdditional(1) if it came from NotifyAdditional. Discarding a
// listener that is not registered does nothing.
//
// Discard is how a waiter that stops waiting (a canceled future, a goroutine
// that gives up) lets go of its registration; it makes a Listener a
// smol.Discarder, so a task canceled while it waits on one discards it.
func (l *Listener) Discard() {
	e := l.ev
	if e == nil {
		return
	}
	switch l.leave() {
	case lsNotified:
		e.Notify(1)
	case lsNotifiedAdditional:
		e.NotifyAdditional(1)
	}
}
