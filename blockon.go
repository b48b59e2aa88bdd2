package smol

import (
	"context"
	"sync"
	"sync/atomic"
)

// parker blocks one goroutine until it is unparked. An unpark that comes
// before the park is kept as a permit, so no wake is lost between a check
// and the park that follows it; several unparks leave one permit.
type parker struct {
	ch chan struct{}
}

func newParker() parker { return parker{ch: make(chan struct{}, 1)} }

// Wake unparks, so a parker is itself a Waker.
func (p *parker) Wake() { p.unpark() }

func (p *parker) unpark() {
	// A full channel already holds the permit: the send is skipped without
	// taking the channel's lock.
	select {
	case p.ch <- struct{}{}:
	default:
	}
}

func (p *parker) park() { <-p.ch }

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
