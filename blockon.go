package smol

import (
	"context"
	"fmt"
	"sync"
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

type blocker struct {
	p  parker
	cx Context
}

var blockers = sync.Pool{New: func() any {
	b := &blocker{p: newParker()}
	b.cx.waker = &b.p
	return b
}}

// BlockOn runs f to completion on the calling goroutine and returns its
// value: it polls f, parks the goroutine until f's waker is woken, and polls
// again. Tasks that f awaits run on their own executors; BlockOn only waits.
// Use it at the edge of async code, such as in main or a test, never inside
// a poll.
func BlockOn[T any](f Future[T]) T {
	b := blockers.Get().(*blocker)
	defer blockers.Put(b)
	for {
		if v, ok := f.Poll(&b.cx); ok {
			return v
		}
		b.p.park()
	}
}

// Wait is BlockOn with a context: it returns f's value, or ctx.Err() as soon
// as ctx is done, whichever comes first. If ctx is already done, f is not
// polled. If f is a [*Task] that was canceled, Wait returns the task's Err.
// After an early return f is left as it is; cancel it if it is a task.
func Wait[T any](ctx context.Context, f Future[T]) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	b := blockers.Get().(*blocker)
	defer blockers.Put(b)
	stop := context.AfterFunc(ctx, b.p.unpark)
	defer stop()
	for {
		if v, ok := f.Poll(&b.cx); ok {
			if e, isTask := f.(interface{ Err() error }); isTask {
				return v, e.Err()
			}
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return zero, err
		}
		b.p.park()
	}
}

type ctxDone struct {
	ctx  context.Context
	mu   sync.Mutex // guards w
	w    Waker
	stop func() bool
}

func (d *ctxDone) Poll(cx *Context) (error, bool) {
	if err := d.ctx.Err(); err != nil {
		return err, true
	}
	d.mu.Lock()
	d.w = cx.Waker()
	d.mu.Unlock()
	if d.stop == nil {
		// The callback is registered once; it wakes whichever waker the
		// latest poll stored. No goroutine exists until ctx is done.
		d.stop = context.AfterFunc(d.ctx, func() {
			d.mu.Lock()
			w := d.w
			d.mu.Unlock()
			w.Wake()
		})
	}
	if err := d.ctx.Err(); err != nil {
		return err, true
	}
	return nil, false
}

// ContextDone returns a future that is ready with ctx.Err() once ctx is
// done. While it waits it holds no goroutine: a callback registered with
// context.AfterFunc wakes the task. A ContextDone dropped before ctx is done
// stays registered with ctx until ctx is done or collected.
func ContextDone(ctx context.Context) Future[error] { return &ctxDone{ctx: ctx} }
