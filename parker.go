package smol

import (
	"fmt"
	"sync/atomic"
)

// parker blocks one goroutine until it is unparked. An unpark that comes
// before the park is kept as a permit, so no wake is lost between a check
// and the park that follows it; several unparks leave one permit.
//
// A parking goroutine drives the reactor if it can (see reactor). Its state:
//
//	pIdle     running, no permit
//	pNotified a permit is pending
//	pParked   blocked on ch
//	pPolling  blocked in the poller, holding the reactor lock
//
// unpark swaps in pNotified and then does what the old state needs: a send
// on ch for pParked, a poller notification for pPolling. The swap makes
// exactly one unpark responsible for that, so ch (capacity 1) never blocks.
type parker struct {
	state atomic.Int32
	ch    chan struct{}
}

const (
	pIdle int32 = iota
	pNotified
	pParked
	pPolling
)

func newParker() parker { return parker{ch: make(chan struct{}, 1)} }

// Wake unparks, so a parker is itself a Waker.
func (p *parker) Wake() { p.unpark() }

func (p *parker) unpark() {
	// A permit already pending needs nothing more: the parker consumes it
	// after this load, then looks at whatever the caller published.
	if p.state.Load() == pNotified {
		return
	}
	switch p.state.Swap(pNotified) {
	case pParked:
		p.ch <- struct{}{}
	case pPolling:
		if err := theReactor.Load().p.Notify(); err != nil {
			panic(fmt.Sprintf("smol: waking the reactor: %v", err))
		}
	}
}

// park returns once the parker is unparked; it may also return spuriously.
func (p *parker) park() {
	if p.state.CompareAndSwap(pNotified, pIdle) {
		return
	}
	r := theReactor.Load()
	if r != nil {
		if r.tryLock() {
			p.drive(r)
			return
		}
		// Someone else drives the poller. Queue up to take it over, and
		// look at the lock once more: an unlock that ran before we were
		// queued is seen here, one after finds us in the queue.
		r.addWaiting(p)
		if r.tryLock() {
			r.removeWaiting(p)
			p.drive(r)
			return
		}
		if r.fbHold.Load() {
			// The fallback yields the poller to a goroutine that wants it.
			_ = r.p.Notify()
		}
	}
	if p.state.CompareAndSwap(pIdle, pParked) {
		<-p.ch
	}
	p.state.Store(pIdle)
	if r != nil {
		r.removeWaiting(p)
	}
}

// drive blocks in the poller until the parker is unparked; the caller holds
// the reactor lock, which drive releases.
func (p *parker) drive(r *reactor) {
	for p.state.CompareAndSwap(pIdle, pPolling) {
		r.react(-1, p)
	}
	p.state.Store(pIdle)
	r.unlock()
}

// mainWaker wakes the future that a call to Run is waiting for.
type mainWaker struct {
	woken atomic.Bool
	p     *parker
}

func (m *mainWaker) Wake() {
	if !m.woken.Swap(true) {
		m.p.unpark()
	}
}
