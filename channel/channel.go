// Package channel provides multi-producer, multi-consumer channels for
// async code: sends and receives are futures that tasks await, with
// blocking forms for ordinary goroutines, so tasks and goroutines can talk
// through the same channel.
//
// A channel is created by [New] (bounded) or [NewUnbounded] and is used
// through two kinds of handle: [*Sender] and [*Receiver]. Values are
// received in the order they were sent (first in, first out overall, and
// so in order per producer).
//
// # Closing
//
// A channel closes when [Sender.CloseChannel] or [Receiver.CloseChannel] is
// called, when the last Sender handle is closed, or when the last Receiver
// handle is closed. After that, sends fail with a [*SendError] that holds
// the value that was not sent (errors.Is(err, ErrClosed) is true);
// receivers first drain the values still queued and then get [ErrClosed].
//
// # Handles and reference counts
//
// Go has no destructors, so a handle is let go of explicitly: each
// [Sender.Clone] or [Receiver.Clone] adds a handle and counts it, and each
// handle's Close removes it (a second Close of the same handle does
// nothing). When the count of senders, or of receivers, drops to zero, the
// channel closes, just as close(ch) does for a Go channel when the last
// producer is done. A handle that is never closed keeps its side open; a
// channel whose handles are all unreachable is simply garbage collected.
// Operations through a closed handle fail as on a closed channel, even if
// other handles keep the channel open.
//
// # Futures, cancellation and costs
//
// [Sender.Send] and [Receiver.Recv] return futures. A future that is
// abandoned before it is ready must be given up with its Discard method:
// a waiting future holds a registration with the channel, and a receive
// that was woken for a value and is then discarded passes the wake on to
// another receiver, so no value is stranded (the same holds for senders
// and free space). [RecvFuture.Reset] and [SendFuture.Reset] reuse one
// future for many operations, which makes sends and receives allocate
// nothing; Send and Recv allocate the future (one allocation each). The
// blocking forms allocate nothing in the steady state.
//
// A task canceled by Task.Cancel or by closing its executor calls Discard
// on its future (the futures here are smol.Discarders, and the runtime's
// combinators forward the call), so a receive canceled with its task passes
// its wake on like any other discarded receive.
//
// The queue is a ring buffer under a mutex; waiting is built on
// [event.Event]. The bounded buffer is allocated in full by New; the
// unbounded one grows by doubling and is released when it empties after
// growing past 4096 values.
package channel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

var (
	// ErrClosed is reported by receives from a closed, drained channel and
	// by operations through a closed handle. Failed sends report a
	// [*SendError], for which errors.Is(err, ErrClosed) is true.
	ErrClosed = errors.New("channel: closed")
	// ErrFull is returned by [Sender.TrySend] when a bounded channel is full.
	ErrFull = errors.New("channel: full")
	// ErrEmpty is returned by [Receiver.TryRecv] when no value is queued.
	ErrEmpty = errors.New("channel: empty")
)

// SendError is the error of a send to a closed channel. It hands back the
// value that was not sent. errors.Is(err, ErrClosed) reports true for it.
type SendError[T any] struct {
	Value T // the value that was not sent
}

// Error describes the failure.
func (e *SendError[T]) Error() string { return "channel: send on closed channel" }

// Unwrap returns [ErrClosed].
func (e *SendError[T]) Unwrap() error { return ErrClosed }

// channel is what the handles share.
type channel[T any] struct {
	mu    sync.Mutex
	buf   []T // ring buffer; guarded by mu
	head  int // index of the oldest value; guarded by mu
	limit int // capacity, or 0 when unbounded
	// n is the number of values queued and closed is set once; both are
	// written under mu and read without it by the empty and full checks.
	n      atomic.Int64
	closed atomic.Bool
	// sendOps is notified when a value leaves a bounded channel, recvOps
	// when one arrives; both are notified in full on close. The state they
	// announce (n, closed) is changed by atomic stores before the notify,
	// and waiters re-check it by atomic loads after listening, so no wake
	// is lost (see package event).
	sendOps, recvOps   event.Event
	senders, receivers atomic.Int64
}

// New returns the two ends of a channel that holds at most capacity values.
// It panics if capacity < 1: there are no rendezvous (unbuffered) channels,
// as in Rust's async-channel; use capacity 1 for the closest thing, or
// [NewUnbounded]. Like make for a Go channel, New allocates the whole
// buffer at once.
func New[T any](capacity int) (*Sender[T], *Receiver[T]) {
	if capacity < 1 {
		panic(fmt.Sprintf("channel: New(%d): capacity must be at least 1", capacity))
	}
	c := &channel[T]{limit: capacity, buf: make([]T, capacity)}
	return c.handles()
}

// NewUnbounded returns the two ends of a channel with no limit on how many
// values it holds: sends never wait.
func NewUnbounded[T any]() (*Sender[T], *Receiver[T]) {
	return (&channel[T]{}).handles()
}

func (c *channel[T]) handles() (*Sender[T], *Receiver[T]) {
	c.senders.Store(1)
	c.receivers.Store(1)
	return &Sender[T]{c: c}, &Receiver[T]{c: c}
}

// Operation outcomes of the queue.
type status uint8

const (
	done status = iota
	wouldBlock
	isClosed
)

// trySend queues v unless the channel is closed or full.
func (c *channel[T]) trySend(v T) status {
	// Full or closed: say so without the lock.
	if c.closed.Load() {
		return isClosed
	}
	if c.limit != 0 && c.n.Load() == int64(c.limit) {
		return wouldBlock
	}
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return isClosed
	}
	n := int(c.n.Load())
	if n == len(c.buf) {
		if c.limit != 0 {
			c.mu.Unlock()
			return wouldBlock
		}
		c.grow()
	}
	i := c.head + n
	if i >= len(c.buf) {
		i -= len(c.buf)
	}
	c.buf[i] = v
	c.n.Store(int64(n + 1))
	c.mu.Unlock()
	// A new value is a new reason to wake a receiver: notify one that has
	// not been notified yet, so that two quick sends wake two receivers.
	c.recvOps.NotifyAdditional(1)
	return done
}

// grow doubles the unbounded buffer; mu is held.
func (c *channel[T]) grow() {
	nb := make([]T, max(8, 2*len(c.buf)))
	k := copy(nb, c.buf[c.head:])
	copy(nb[k:], c.buf[:c.head])
	c.buf, c.head = nb, 0
}

// tryRecv takes the oldest value, unless the channel is empty.
func (c *channel[T]) tryRecv() (T, status) {
	var zero T
	// Empty: say so without the lock. closed is read first: once it is
	// set no value arrives, so empty-after-closed means closed and drained.
	closed := c.closed.Load()
	if c.n.Load() == 0 {
		if closed {
			return zero, isClosed
		}
		return zero, wouldBlock
	}
	c.mu.Lock()
	n := int(c.n.Load())
	if n == 0 {
		// Taken by another receiver since the check above.
		c.mu.Unlock()
		return zero, wouldBlock
	}
	v := c.buf[c.head]
	c.buf[c.head] = zero // let the garbage collector have it
	c.head++
	if c.head == len(c.buf) {
		c.head = 0
	}
	c.n.Store(int64(n - 1))
	if n == 1 && c.limit == 0 && len(c.buf) > 4096 {
		c.buf, c.head = nil, 0
	}
	c.mu.Unlock()
	if c.limit != 0 {
		// Free space is a new reason to wake a sender.
		c.sendOps.NotifyAdditional(1)
	}
	return v, done
}

// close closes the channel and reports whether this call did it.
func (c *channel[T]) close() bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	c.closed.Store(true)
	c.mu.Unlock()
	// Every waiter re-checks and sees the channel closed.
	c.sendOps.Notify(event.All)
	c.recvOps.Notify(event.All)
	return true
}

func (c *channel[T]) len() int { return int(c.n.Load()) }

func (c *channel[T]) capacity() int {
	if c.limit == 0 {
		return -1
	}
	return c.limit
}

// Sender is a handle that sends values into a channel. It is safe for use
// by any number of tasks and goroutines at once.
type Sender[T any] struct {
	c      *channel[T]
	closed atomic.Bool
}

// Receiver is a handle that receives values from a channel. It is safe for
// use by any number of tasks and goroutines at once; each value goes to one
// receiver.
type Receiver[T any] struct {
	c      *channel[T]
	closed atomic.Bool
}

// Clone returns a new Sender handle for the same channel and counts it: the
// channel stays open until every sender handle is closed. Cloning a handle
// of a closed channel returns a handle whose sends fail.
func (s *Sender[T]) Clone() *Sender[T] {
	s.c.senders.Add(1)
	return &Sender[T]{c: s.c}
}

// Close closes this handle. If it is the last open Sender of the channel,
// the channel closes: receivers drain what is queued and then get
// [ErrClosed]. Closing a handle twice does nothing the second time.
func (s *Sender[T]) Close() {
	if !s.closed.Swap(true) && s.c.senders.Add(-1) == 0 {
		s.c.close()
	}
}

// CloseChannel closes the channel for every handle, whatever the reference
// counts, and reports whether this call closed it. This handle stays open
// (and counted) until its Close.
func (s *Sender[T]) CloseChannel() bool { return s.c.close() }

// IsClosed reports whether the channel is closed, or this handle is.
func (s *Sender[T]) IsClosed() bool { return s.closed.Load() || s.c.closed.Load() }

// Len reports how many values are queued.
func (s *Sender[T]) Len() int { return s.c.len() }

// Cap reports the channel's capacity, or -1 if it is unbounded.
func (s *Sender[T]) Cap() int { return s.c.capacity() }

// TrySend queues v if there is room, without waiting. It returns nil on
// success, [ErrFull] if a bounded channel is full, or a [*SendError]
// holding v if the channel (or this handle) is closed.
func (s *Sender[T]) TrySend(v T) error {
	switch s.trySend(v) {
	case done:
		return nil
	case wouldBlock:
		return ErrFull
	default:
		return &SendError[T]{Value: v}
	}
}

func (s *Sender[T]) trySend(v T) status {
	if s.closed.Load() {
		return isClosed
	}
	return s.c.trySend(v)
}

// Send returns a future that queues v, waiting while a bounded channel is
// full. The future is ready with nil once v is queued, or with a
// [*SendError] holding v if the channel is or becomes closed first.
// Sends that wait are not served in a fixed order: a sender that finds room
// takes it. A Send that is not awaited to the end must be discarded
// ([SendFuture.Discard]).
func (s *Sender[T]) Send(v T) *SendFuture[T] {
	return &SendFuture[T]{s: s, v: v}
}

// SendBlocking queues v, blocking the calling goroutine while the channel
// is full. It returns nil, or a [*SendError] holding v if the channel is
// or becomes closed. It is for goroutines, not for use inside a poll.
func (s *Sender[T]) SendBlocking(v T) error {
	return s.SendContext(context.Background(), v)
}

// SendContext is [Sender.SendBlocking] that gives up when ctx is done,
// returning ctx.Err(); v is then not queued.
func (s *Sender[T]) SendContext(ctx context.Context, v T) error {
	switch wait(ctx, &s.c.sendOps, func() status { return s.trySend(v) }) {
	case done:
		return nil
	case isClosed:
		return &SendError[T]{Value: v}
	default:
		return ctx.Err()
	}
}

// Clone returns a new Receiver handle for the same channel and counts it:
// the channel stays open until every receiver handle is closed.
func (r *Receiver[T]) Clone() *Receiver[T] {
	r.c.receivers.Add(1)
	return &Receiver[T]{c: r.c}
}

// Close closes this handle. If it is the last open Receiver of the channel,
// the channel closes: sends fail with a [*SendError] from then on; values
// still queued stay there for receivers that are still in use. Closing a
// handle twice does nothing the second time.
func (r *Receiver[T]) Close() {
	if !r.closed.Swap(true) && r.c.receivers.Add(-1) == 0 {
		r.c.close()
	}
}

// CloseChannel closes the channel for every handle, whatever the reference
// counts, and reports whether this call closed it. Values already queued
// can still be received.
func (r *Receiver[T]) CloseChannel() bool { return r.c.close() }

// IsClosed reports whether the channel is closed, or this handle is. A
// closed channel may still hold values to receive.
func (r *Receiver[T]) IsClosed() bool { return r.closed.Load() || r.c.closed.Load() }

// Len reports how many values are queued.
func (r *Receiver[T]) Len() int { return r.c.len() }

// Cap reports the channel's capacity, or -1 if it is unbounded.
func (r *Receiver[T]) Cap() int { return r.c.capacity() }

// TryRecv takes the oldest queued value without waiting. It returns
// [ErrEmpty] if none is queued, or [ErrClosed] if the channel is closed
// and drained (or this handle is closed).
func (r *Receiver[T]) TryRecv() (T, error) {
	v, st := r.tryRecv()
	switch st {
	case done:
		return v, nil
	case wouldBlock:
		return v, ErrEmpty
	default:
		return v, ErrClosed
	}
}

func (r *Receiver[T]) tryRecv() (T, status) {
	if r.closed.Load() {
		var zero T
		return zero, isClosed
	}
	return r.c.tryRecv()
}

// Recv returns a future that takes the oldest value, waiting while the
// channel is empty. It is ready with the value, or fails with [ErrClosed]
// once the channel is closed and drained. A Recv that is not awaited to the end must be discarded
// ([RecvFuture.Discard]).
func (r *Receiver[T]) Recv() *RecvFuture[T] {
	return &RecvFuture[T]{r: r}
}

// RecvBlocking takes the oldest value, blocking the calling goroutine while
// the channel is empty. It returns [ErrClosed] once the channel is closed
// and drained. It is for goroutines, not for use inside a poll.
func (r *Receiver[T]) RecvBlocking() (T, error) {
	return r.RecvContext(context.Background())
}

// RecvContext is [Receiver.RecvBlocking] that gives up when ctx is done,
// returning ctx.Err(); no value is taken then.
func (r *Receiver[T]) RecvContext(ctx context.Context) (T, error) {
	var v T
	switch wait(ctx, &r.c.recvOps, func() (st status) { v, st = r.tryRecv(); return st }) {
	case done:
		return v, nil
	case isClosed:
		return v, ErrClosed
	default:
		return v, ctx.Err()
	}
}

// listeners holds spare listeners for the blocking forms, so that a
// blocking operation that waits allocates nothing in the steady state.
var listeners = sync.Pool{New: func() any { return new(event.Listener) }}

// wait runs op until it does not report wouldBlock, blocking on ev between
// tries, and returns its last status; it returns wouldBlock if ctx is done
// first.
func wait(ctx context.Context, ev *event.Event, op func() status) status {
	st := op()
	if st != wouldBlock {
		return st
	}
	l := listeners.Get().(*event.Listener)
	defer listeners.Put(l)
	for {
		// Listen, then re-check: a change made before the listener was
		// registered is seen by this op, one made after it notifies l.
		l.ListenTo(ev)
		if st = op(); st != wouldBlock {
			// Done without l's notification: pass it on if one came.
			l.Discard()
			return st
		}
		if err := l.WaitContext(ctx); err != nil {
			return wouldBlock // l is unregistered on this error
		}
		if st = op(); st != wouldBlock {
			if st == isClosed {
				// The wake was for a value or a slot that this caller
				// cannot use, its handle being closed: pass it on.
				ev.NotifyAdditional(1)
			}
			return st
		}
	}
}

// SendFuture is a send in progress, returned by [Sender.Send]: a
// [smol.Future] that is ready once the value is queued, or fails with a
// [*SendError] holding the value if the channel is closed first.
//
// The zero SendFuture is not usable; [SendFuture.Reset] makes it ready for
// a send, so that a SendFuture embedded in a longer-lived future serves
// many sends without allocating. A SendFuture must not be copied after its
// first poll, nor polled after it was ready until it is Reset.
type SendFuture[T any] struct {
	s *Sender[T]
	v T
	l event.Listener
}

// Reset prepares f to send v through s, discarding the send f was doing if
// it was still waiting.
func (f *SendFuture[T]) Reset(s *Sender[T], v T) {
	f.l.Discard()
	f.s, f.v = s, v
}

// Poll tries to queue the value; see [SendFuture]. Each poll spends a unit
// of the task's budget (see smol.Context.Proceed).
func (f *SendFuture[T]) Poll(cx *smol.Context) (struct{}, bool, error) {
	if !cx.Proceed() {
		return struct{}{}, false, nil
	}
	// Waiting: go on only once notified, which consumes the notification.
	// A value may have been taken meanwhile, but then a notification for
	// the space it freed is on its way to some sender.
	woken := false
	if f.l.Listening() {
		if _, ok, _ := f.l.Poll(cx); !ok {
			cx.WaitingOn(f.s.c, smol.WaitSend)
			return struct{}{}, false, nil
		}
		woken = true
	}
	st := f.s.trySend(f.v)
	if st == wouldBlock {
		// Full: listen with the task's waker, then try once more before
		// waiting.
		f.l.ListenToWith(&f.s.c.sendOps, cx.Waker())
		if st = f.s.trySend(f.v); st == wouldBlock {
			cx.WaitingOn(f.s.c, smol.WaitSend)
			return struct{}{}, false, nil
		}
		// Done without waiting after all: Discard passes on a notification
		// that may have come in the meantime.
		f.l.Discard()
	}
	if st == isClosed {
		if woken {
			// The wake was for a slot this send cannot use (its handle,
			// not the channel, may be what is closed): pass it on.
			f.s.c.sendOps.NotifyAdditional(1)
		}
		return struct{}{}, true, &SendError[T]{Value: f.v}
	}
	var zero T
	f.v = zero
	return struct{}{}, true, nil
}

// Discard gives up the send if it has not completed: the value is not
// queued, and a wake the future had received and not used is passed on to
// another sender. Discarding a future that completed, or twice, does
// nothing.
func (f *SendFuture[T]) Discard() { f.l.Discard() }

// RecvFuture is a receive in progress, returned by [Receiver.Recv]: a
// [smol.Future] of the value that is ready once a value is taken, or fails
// with [ErrClosed] once the channel is closed and drained.
//
// The zero RecvFuture is not usable; [RecvFuture.Reset] makes it ready for
// a receive, so that a RecvFuture embedded in a longer-lived future serves
// many receives without allocating. A RecvFuture must not be copied after
// its first poll, nor polled after it was ready until it is Reset.
type RecvFuture[T any] struct {
	r *Receiver[T]
	l event.Listener
}

// Reset prepares f to receive from r, discarding the receive f was doing if
// it was still waiting.
func (f *RecvFuture[T]) Reset(r *Receiver[T]) {
	f.l.Discard()
	f.r = r
}

// Poll tries to take a value; see [RecvFuture]. Each poll spends a unit of
// the task's budget (see smol.Context.Proceed).
func (f *RecvFuture[T]) Poll(cx *smol.Context) (T, bool, error) {
	var zero T
	if !cx.Proceed() {
		return zero, false, nil
	}
	// Waiting: go on only once notified, which consumes the notification.
	// A value queued meanwhile has its own notification on its way to some
	// receiver.
	woken := false
	if f.l.Listening() {
		if _, ok, _ := f.l.Poll(cx); !ok {
			cx.WaitingOn(f.r.c, smol.WaitRecv)
			return zero, false, nil
		}
		woken = true
	}
	v, st := f.r.tryRecv()
	if st == wouldBlock {
		// Empty: listen with the task's waker, then look once more before
		// waiting.
		f.l.ListenToWith(&f.r.c.recvOps, cx.Waker())
		if v, st = f.r.tryRecv(); st == wouldBlock {
			cx.WaitingOn(f.r.c, smol.WaitRecv)
			return zero, false, nil
		}
		// Done without waiting after all: Discard passes on a notification
		// that may have come in the meantime.
		f.l.Discard()
	}
	if st == isClosed {
		if woken {
			// The wake was for a value this receive cannot take (its
			// handle, not the channel, may be what is closed): pass it on.
			f.r.c.recvOps.NotifyAdditional(1)
		}
		return zero, true, ErrClosed
	}
	return v, true, nil
}

// Discard gives up the receive if it has not completed. If the future had
// been woken for a value it did not take, the wake is passed on to another
// receiver, so the value is not stranded. Discarding a future that
// completed, or twice, does nothing.
func (f *RecvFuture[T]) Discard() { f.l.Discard() }

// String describes the channel for task dumps: "channel (2/8 queued)".
func (c *channel[T]) String() string {
	if c.limit == 0 {
		return fmt.Sprintf("channel (%d queued, unbounded)", c.len())
	}
	return fmt.Sprintf("channel (%d/%d queued)", c.len(), c.limit)
}
