package smol

import (
	"context"
	"sync"
)

type blocker struct {
	p  parker
	cx Context
}

var blockers = sync.Pool{New: func() any {
	b := &blocker{p: newParker()}
	b.cx.waker = &b.p
	return b
}}

// getBlocker takes a blocker from the pool and sets its context up for the
// options: the default driver and an unlimited budget unless they say
// otherwise.
func getBlocker(opts []Option) *blocker {
	b := blockers.Get().(*blocker)
	if len(opts) == 0 {
		b.cx.drv, b.cx.budget = defaultDriver(), unlimited
		return b
	}
	s := makeSettings(opts, true)
	b.cx.drv = defaultDriver()
	if s.clock != nil {
		b.cx.drv = newDriver(&s)
	}
	b.cx.budget = int32(s.budget)
	return b
}

func putBlocker(b *blocker) {
	b.cx.drv, b.cx.waitOn = nil, nil
	blockers.Put(b)
}

// poll polls f once with the blocker's context and a fresh budget.
func pollWith[T any](b *blocker, f Future[T], budget int32) (T, bool, error) {
	b.cx.budget = budget
	return f.Poll(&b.cx)
}

// BlockOn runs f to completion on the calling goroutine and returns its
// value and error: it polls f, parks the goroutine until f's waker is
// woken, and polls again. Tasks that f awaits run on their own executors;
// BlockOn only waits, and a panic in f, or in a task f awaits, propagates
// out of it. Use it at the edge of async code, such as in main or a test,
// never inside a poll.
//
// f's timers keep the real clock of the process's default driver, unless
// opts holds [WithClock]; its budget is unlimited, since nothing else runs
// on this goroutine, unless opts holds [WithBudget]. Other options panic.
func BlockOn[T any](f Future[T], opts ...Option) (T, error) {
	b := getBlocker(opts)
	defer putBlocker(b)
	enterDriving()
	defer leaveDriving()
	budget := b.cx.budget
	for {
		if v, ok, err := pollWith(b, f, budget); ok {
			return v, err
		}
		b.p.park()
	}
}

// Wait is [BlockOn] with a context: it returns f's value and error, or
// ctx.Err() as soon as ctx is done, whichever comes first. If ctx is
// already done, f is not polled. After an early return f is discarded if
// it is a [Discarder]; a task keeps running (cancel it if that is wanted).
func Wait[T any](ctx context.Context, f Future[T], opts ...Option) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	b := getBlocker(opts)
	defer putBlocker(b)
	enterDriving()
	defer leaveDriving()
	budget := b.cx.budget
	stop := context.AfterFunc(ctx, b.p.unpark)
	defer stop()
	for {
		if v, ok, err := pollWith(b, f, budget); ok {
			return v, err
		}
		if err := ctx.Err(); err != nil {
			Discard(f)
			return zero, err
		}
		b.p.park()
	}
}

// ctxDone is the future of ContextDone. Its state:
//
//	stop == nil            not yet polled pending: nothing registered
//	stop != nil, w set     registered with ctx; the callback wakes w
//	done                   ready or discarded: the registration is given up
type ctxDone struct {
	ctx  context.Context
	mu   sync.Mutex // guards w
	w    Waker
	stop func() bool
}

func (d *ctxDone) Poll(cx *Context) (struct{}, bool, error) {
	if err := d.ctx.Err(); err != nil {
		d.Discard()
		return struct{}{}, true, err
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
			if w != nil {
				w.Wake()
			}
		})
	}
	if err := d.ctx.Err(); err != nil {
		d.Discard()
		return struct{}{}, true, err
	}
	cx.WaitingOn(d, WaitOther)
	return struct{}{}, false, nil
}

// Discard gives up the registration with ctx.
func (d *ctxDone) Discard() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
	d.mu.Lock()
	d.w = nil
	d.mu.Unlock()
}

func (d *ctxDone) String() string { return "context.Context Done" }

// ContextDone returns a future that fails with ctx.Err() once ctx is done:
// raced against an operation with [Select] or [Race], it ends the operation
// with the context's error. While it waits it holds no goroutine: a
// callback registered with context.AfterFunc wakes the task. It gives the
// registration up when it is ready or discarded.
func ContextDone(ctx context.Context) Future[struct{}] { return &ctxDone{ctx: ctx} }
