package lock

import (
	"context"
	"sync/atomic"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// OnceCell holds a value that is set once, by whichever caller first
// initializes it, and read by everyone after. Initialization may be
// asynchronous (a future) or blocking (a function). While one caller
// initializes, the others wait; if the initialization fails (reports an
// error or panics) or is canceled (its future discarded, its context done),
// the cell stays empty and the next waiter in line tries its own
// initializer. The zero OnceCell is empty and ready to use. An OnceCell must
// not be copied after first use.
//
// It is the async counterpart of sync.OnceValue, with retry on failure.
type OnceCell[T any] struct {
	// state moves empty -> initializing -> set, or back to empty when an
	// initialization fails. value is written before state becomes set
	// (an atomic store), and read only after a load that sees set.
	state atomic.Uint32
	value T
	// ev is notified in full when the value is set, and for one waiter when
	// an initialization fails, so that it may try.
	ev event.Event
}

const (
	cellEmpty uint32 = iota
	cellInitializing
	cellSet
)

// Get returns the value and true if the cell is set, without waiting.
func (c *OnceCell[T]) Get() (T, bool) {
	if c.state.Load() == cellSet {
		return c.value, true
	}
	var zero T
	return zero, false
}

// IsSet reports whether the cell holds its value.
func (c *OnceCell[T]) IsSet() bool { return c.state.Load() == cellSet }

// Set stores v if the cell is empty and no one is initializing it, and
// reports whether it did. Waiters are released with v.
func (c *OnceCell[T]) Set(v T) bool {
	if !c.state.CompareAndSwap(cellEmpty, cellInitializing) {
		return false
	}
	c.finish(v)
	return true
}

// finish publishes v; the caller is the initializer.
func (c *OnceCell[T]) finish(v T) {
	c.value = v
	c.state.Store(cellSet)
	c.ev.Notify(event.All)
}

// fail returns the cell to empty after a failed or canceled initialization
// and lets one waiter try.
func (c *OnceCell[T]) fail() {
	c.state.Store(cellEmpty)
	c.ev.Notify(1)
}

// GetOrInit returns a future of the cell's value. If the cell is set, the
// future is ready with the value at its first poll. If it is empty and no
// one is initializing it, the future calls init and awaits the future that
// init returns; that future's value becomes the cell's value. If someone
// else is initializing, the future waits for the outcome, and tries init
// itself if that initialization fails.
//
// An initialization fails if init's future fails, or if polling it
// panics. The future of the caller whose init failed fails with that error
// (a panic is re-raised); the cell stays empty. A GetOrInit future abandoned before it is ready must be discarded
// ([OnceFuture.Discard]), which cancels an initialization in progress: the
// init future is dropped (its Discard method, if it has one, is called)
// and the next waiter tries.
func (c *OnceCell[T]) GetOrInit(init func() smol.Future[T]) *OnceFuture[T] {
	return &OnceFuture[T]{c: c, init: init}
}

// GetOrInitBlocking returns the cell's value, initializing it on the
// calling goroutine with init if it is empty, or waiting if another caller
// is initializing it. If init returns an error (or panics), the cell stays
// empty, GetOrInitBlocking returns that error (or re-panics), and a waiting
// caller tries next. It is for goroutines, not for use inside a poll.
func (c *OnceCell[T]) GetOrInitBlocking(init func() (T, error)) (T, error) {
	return c.GetOrInitContext(context.Background(), func(context.Context) (T, error) { return init() })
}

// GetOrInitContext is GetOrInitBlocking with a context: a caller that waits
// for another's initialization gives up when ctx is done and returns
// ctx.Err(); a caller that initializes passes ctx to init, and the outcome
// is init's.
func (c *OnceCell[T]) GetOrInitContext(ctx context.Context, init func(context.Context) (T, error)) (T, error) {
	var l *event.Listener
	defer func() {
		if l != nil {
			l.Discard()
		}
	}()
	for {
		switch c.state.Load() {
		case cellSet:
			return c.value, nil
		case cellEmpty:
			if c.state.CompareAndSwap(cellEmpty, cellInitializing) {
				return c.runInit(ctx, init)
			}
			continue
		}
		// Someone else initializes: listen, re-check, wait.
		if l == nil {
			l = new(event.Listener)
		}
		l.ListenTo(&c.ev)
		if c.state.Load() != cellInitializing {
			l.Discard()
			continue
		}
		if err := l.WaitContext(ctx); err != nil {
			var zero T
			return zero, err
		}
		if err := ctx.Err(); err != nil && c.state.Load() == cellEmpty {
			// Woken to take a turn, but giving up: pass the turn on.
			c.ev.Notify(1)
			var zero T
			return zero, err
		}
	}
}

// runInit runs a blocking initializer; the caller moved the cell to
// initializing.
func (c *OnceCell[T]) runInit(ctx context.Context, init func(context.Context) (T, error)) (v T, err error) {
	ok := false
	defer func() {
		if !ok {
			c.fail() // an error or a panic: let the next caller try
		}
	}()
	v, err = init(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	ok = true
	c.finish(v)
	return v, nil
}

// OnceFuture is a [OnceCell.GetOrInit] in progress: a [smol.Future] of the
// cell's value. It is ready with the value, or, for the caller whose
// initialization failed, fails with the initialization's error.
type OnceFuture[T any] struct {
	c     *OnceCell[T]
	init  func() smol.Future[T]
	owner bool           // this caller moved the cell to initializing
	fut   smol.Future[T] // init's future, once called
	l     event.Listener
}

// Poll returns the value once the cell is set, initializing it if this
// caller's turn comes; see [OnceCell.GetOrInit].
func (f *OnceFuture[T]) Poll(cx *smol.Context) (T, bool, error) {
	c := f.c
	for !f.owner {
		// Waiting for another initializer: continue only once notified.
		if f.l.Listening() {
			if _, ok, _ := f.l.Poll(cx); !ok {
				var zero T
				cx.WaitingOn(&c.ev, smol.WaitLock)
				return zero, false, nil
			}
		}
		switch c.state.Load() {
		case cellSet:
			return c.value, true, nil
		case cellEmpty:
			f.owner = c.state.CompareAndSwap(cellEmpty, cellInitializing)
			continue
		}
		f.l.ListenToWith(&c.ev, cx.Waker())
		if c.state.Load() == cellInitializing {
			var zero T
			cx.WaitingOn(&c.ev, smol.WaitLock)
			return zero, false, nil
		}
		f.l.Discard()
	}
	return f.pollInit(cx)
}

// pollInit calls init if it has not yet, and polls its future; this caller
// owns the initialization.
func (f *OnceFuture[T]) pollInit(cx *smol.Context) (T, bool, error) {
	c := f.c
	finished := false
	defer func() {
		if !finished {
			// init or its future panicked: give up the initialization.
			f.owner, f.fut = false, nil
			c.fail()
		}
	}()
	if f.fut == nil {
		f.fut = f.init()
	}
	v, ok, err := f.fut.Poll(cx)
	finished = true
	if !ok {
		var zero T
		return zero, false, nil
	}
	f.owner, f.fut = false, nil
	if err != nil {
		c.fail()
		var zero T
		return zero, true, err
	}
	c.finish(v)
	return v, true, nil
}

// Discard gives up the future if it is not ready. If this caller was
// initializing the cell, the initialization is canceled: init's future is
// dropped (after a call to its Discard method, if it has one), the cell
// stays empty and the next waiter tries. Discarding a future that is ready
// does nothing.
func (f *OnceFuture[T]) Discard() {
	f.l.Discard()
	if f.owner {
		fut := f.fut
		f.owner, f.fut = false, nil
		smol.Discard(fut)
		f.c.fail()
	}
}
