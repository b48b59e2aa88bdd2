package channel

import (
	"sync"

	"github.com/smolgo/smol"
)

// FromGo returns a future that receives one value from the Go channel ch.
// It is ready with the value, or fails with [ErrClosed] once ch is closed.
//
// # Cost
//
// A task cannot be woken by a Go channel without a goroutine blocked on
// that channel: the runtime offers no callback on channel readiness. So the
// first poll tries a non-blocking receive, which costs nothing extra when
// a value is waiting; if none is, it starts one goroutine that blocks on ch
// and on a stop signal, and that goroutine receives the value, stores it in
// the future and wakes the task. While it waits a GoRecvFuture therefore
// costs one parked goroutine and two small channels: about 3 KiB in all
// (BenchmarkFromGoPending measured 3.1 to 4.3 KiB), against the 72 bytes
// of a RecvFuture[int] waiting on a channel of this package. Each wait pays a
// goroutine start and exit: a receive that waits costs about 0.7 to 1 µs,
// against about 0.2 µs for a goroutine receiving directly (BenchmarkFromGo).
// The alternative, one shared goroutine running reflect.Select over every
// pending receive, holds less memory but costs time in proportion to the
// number of pending receives at every wake (BenchmarkReflectSelect: 1.5 µs
// with 10 pending, 20 to 30 µs with 100, 0.2 to 0.3 ms with 1,000), so it
// was not taken.
//
// Use FromGo at the edges of a program (a signal, a shutdown channel, a
// channel fed by a library), not for every value of a busy stream: for
// that, have the producing goroutine send into a channel of this package
// with [Sender.SendBlocking], which wakes tasks with no goroutine in
// between.
//
// # Giving up
//
// A GoRecvFuture is a [smol.Discarder]: a task canceled while it waits, or
// a combinator that drops it, calls [GoRecvFuture.Discard], which stops the
// helper goroutine and waits for it to exit. Values sent after that stay
// in ch for its other receivers. A value the helper had already taken
// when Discard ran (it was racing the cancel) cannot be put back into a Go
// channel; it stays in the future, where [GoRecvFuture.Leftover] returns it.
func FromGo[T any](ch <-chan T) *GoRecvFuture[T] {
	return &GoRecvFuture[T]{ch: ch}
}

// GoRecvFuture is a receive from a Go channel, returned by [FromGo]. It is
// a [smol.Future] of the value.
type GoRecvFuture[T any] struct {
	ch      <-chan T
	stop    chan struct{} // closed by Discard: the goroutine gives up
	exited  chan struct{} // closed by the goroutine when it returns
	mu      sync.Mutex    // guards the fields below
	waker   smol.Waker
	v       T
	got     bool // the goroutine received (v or a close)
	closed  bool // ch was closed
	settled bool // ready was returned or Discard ran
}

// Poll receives from ch if a value is waiting, and otherwise waits for one
// with the help of a goroutine; see [FromGo].
func (f *GoRecvFuture[T]) Poll(cx *smol.Context) (T, bool, error) {
	var zero T
	if f.stop == nil {
		// First poll: take a waiting value without any goroutine.
		select {
		case v, ok := <-f.ch:
			f.settled = true
			if !ok {
				return zero, true, ErrClosed
			}
			return v, true, nil
		default:
		}
		f.waker = cx.Waker()
		f.stop, f.exited = make(chan struct{}), make(chan struct{})
		go f.receive()
		cx.WaitingOn(f, smol.WaitRecv)
		return zero, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.got {
		f.waker = cx.Waker()
		cx.WaitingOn(f, smol.WaitRecv)
		return zero, false, nil
	}
	f.settled = true
	v := f.v
	f.v, f.got = zero, false
	if f.closed {
		return zero, true, ErrClosed
	}
	return v, true, nil
}

// receive runs on the helper goroutine: one receive, then a wake.
func (f *GoRecvFuture[T]) receive() {
	defer close(f.exited)
	select {
	case v, ok := <-f.ch:
		f.mu.Lock()
		f.v, f.closed, f.got = v, !ok, true
		w := f.waker
		f.mu.Unlock()
		w.Wake()
	case <-f.stop:
	}
}

// Discard stops waiting: it stops the helper goroutine and waits for it to
// exit, which is prompt. Discarding a future that was ready, or twice,
// does nothing.
func (f *GoRecvFuture[T]) Discard() {
	if f.stop == nil || f.settled {
		f.settled = true
		return
	}
	f.settled = true
	close(f.stop)
	<-f.exited
}

// Leftover returns, after Discard, a value that the helper goroutine had
// taken from the channel before it was stopped, and true; or false if it
// had taken none. Each such value is returned once.
func (f *GoRecvFuture[T]) Leftover() (T, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var zero T
	if !f.settled || !f.got || f.closed {
		return zero, false
	}
	v := f.v
	f.v, f.got = zero, false
	return v, true
}

// String describes the future for task dumps.
func (f *GoRecvFuture[T]) String() string { return "Go channel" }
