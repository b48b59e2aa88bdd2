package coro

import (
	"io"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/lock"
)

// The straight-line helpers. Each is one call that suspends the coroutine
// until its operation completes, and returns (value, error) in the
// library's one convention. They poll the resource directly, with no
// future allocated, where the resource has poll methods.

// Reader is anything with a PollRead method: smolnet connections, smol.FD,
// a child process's pipes.
type Reader interface {
	PollRead(cx *smol.Context, p []byte) (n int, ok bool, err error)
}

// Writer is anything with a PollWrite method.
type Writer interface {
	PollWrite(cx *smol.Context, p []byte) (n int, ok bool, err error)
}

// Listener is anything with a PollAccept method: smolnet's listeners.
type Listener[C any] interface {
	PollAccept(cx *smol.Context) (C, bool, error)
}

// pollFn is a poll method bound to its arguments, awaited without a
// future of its own.
type pollFn[T any] func(cx *smol.Context) (T, bool, error)

func (f pollFn[T]) Poll(cx *smol.Context) (T, bool, error) { return f(cx) }

// Read reads into p as io.Reader does: at least one byte, io.EOF at the
// end of the stream, or an error. An empty p reads nothing.
func (co *Co) Read(r Reader, p []byte) (int, error) {
	return Await(co, pollFn[int](func(cx *smol.Context) (int, bool, error) { return r.PollRead(cx, p) }))
}

// ReadFull reads exactly len(p) bytes, as io.ReadFull does: io.EOF if none
// came before the end of the stream, io.ErrUnexpectedEOF if some did.
func (co *Co) ReadFull(r Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := co.Read(r, p[n:])
		n += m
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
	}
	return n, nil
}

// Write writes from p as much as the resource takes at once.
func (co *Co) Write(w Writer, p []byte) (int, error) {
	return Await(co, pollFn[int](func(cx *smol.Context) (int, bool, error) { return w.PollWrite(cx, p) }))
}

// WriteAll writes all of p, in as many writes as it takes; on error it
// returns the count written before.
func (co *Co) WriteAll(w Writer, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := co.Write(w, p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Accept waits for the next connection on l.
func Accept[C any](co *Co, l Listener[C]) (C, error) {
	return Await(co, pollFn[C](l.PollAccept))
}

// Sleep suspends the coroutine for d, on its executor's clock.
func (co *Co) Sleep(d time.Duration) error {
	_, err := Await(co, smol.Sleep(d))
	return err
}

// Recv receives a value from rx, or fails with channel.ErrClosed once the
// channel is closed and drained.
func Recv[T any](co *Co, rx *channel.Receiver[T]) (T, error) {
	var f channel.RecvFuture[T]
	f.Reset(rx)
	return Await(co, &f)
}

// Send sends v through tx, waiting for room, or fails with a
// *channel.SendError if the channel is closed.
func Send[T any](co *Co, tx *channel.Sender[T], v T) error {
	var f channel.SendFuture[T]
	f.Reset(tx, v)
	_, err := Await(co, &f)
	return err
}

// Lock locks mu, waiting while another holds it; unlock it with
// mu.Unlock, as with sync.Mutex:
//
//	co.Lock(&mu)
//	defer mu.Unlock()
//
// Lock returns no error: acquiring a Mutex does not fail, and a canceled
// coroutine unwinds instead.
func (co *Co) Lock(mu *lock.Mutex) {
	if mu.TryLock() {
		return
	}
	var f lock.LockFuture
	f.Reset(mu)
	_, _ = Await(co, &f) // a lock future does not fail
}

// ioReader and ioWriter adapt a socket to io.Reader and io.Writer inside a
// coroutine.
type ioReader struct {
	co *Co
	r  Reader
}

func (r ioReader) Read(p []byte) (int, error) { return r.co.Read(r.r, p) }

type ioWriter struct {
	co *Co
	w  Writer
}

func (w ioWriter) Write(p []byte) (int, error) { return w.co.WriteAll(w.w, p) }

// IOReader returns an io.Reader over r for this coroutine, so that bufio,
// io.Copy and the rest of the standard library work inside it. Use it only
// inside the coroutine.
func (co *Co) IOReader(r Reader) io.Reader { return ioReader{co, r} }

// IOWriter returns an io.Writer over w for this coroutine, whose Write
// writes all of p; see [Co.IOReader].
func (co *Co) IOWriter(w Writer) io.Writer { return ioWriter{co, w} }
