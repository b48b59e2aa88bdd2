package smolnet

import "github.com/smolgo/smol"

// The futures in this file wrap poll methods; each is a small value, so
// creating one costs one allocation (for the interface) and polling none.

type pollReader interface {
	PollRead(cx *smol.Context, p []byte) (int, bool, error)
}

type pollWriter interface {
	PollWrite(cx *smol.Context, p []byte) (int, bool, error)
}

type acceptor[C any] interface {
	PollAccept(cx *smol.Context) (C, bool, error)
}

type readFuture struct {
	r pollReader
	p []byte
}

// Poll is one PollRead.
func (f readFuture) Poll(cx *smol.Context) (smol.Result[int], bool) {
	n, ok, err := f.r.PollRead(cx, f.p)
	return smol.Result[int]{Value: n, Err: err}, ok
}

type writeFuture struct {
	w pollWriter
	p []byte
}

// Poll is one PollWrite.
func (f writeFuture) Poll(cx *smol.Context) (smol.Result[int], bool) {
	n, ok, err := f.w.PollWrite(cx, f.p)
	return smol.Result[int]{Value: n, Err: err}, ok
}

// writeAllFuture writes until p is empty; p shrinks as it goes.
type writeAllFuture struct {
	w pollWriter
	p []byte
}

// Poll writes until p is written, the socket is full, or an error.
func (f *writeAllFuture) Poll(cx *smol.Context) (error, bool) {
	for len(f.p) > 0 {
		n, ok, err := f.w.PollWrite(cx, f.p)
		if !ok {
			return nil, false
		}
		if err != nil {
			return err, true
		}
		f.p = f.p[n:]
	}
	return nil, true
}

type acceptFuture[C any] struct{ l acceptor[C] }

// Poll is one PollAccept.
func (f acceptFuture[C]) Poll(cx *smol.Context) (smol.Result[C], bool) {
	c, ok, err := f.l.PollAccept(cx)
	return smol.Result[C]{Value: c, Err: err}, ok
}

// From is what a datagram read returns: the byte count and the sender's
// address (a netip.AddrPort for UDP, a path for Unix datagram sockets).
type From[A any] struct {
	N    int // bytes read
	Addr A   // the sender
}

type readFromFuture[A any] struct {
	r interface {
		PollReadFrom(cx *smol.Context, p []byte) (int, A, bool, error)
	}
	p []byte
}

// Poll is one PollReadFrom.
func (f readFromFuture[A]) Poll(cx *smol.Context) (smol.Result[From[A]], bool) {
	n, a, ok, err := f.r.PollReadFrom(cx, f.p)
	return smol.Result[From[A]]{Value: From[A]{n, a}, Err: err}, ok
}

type writeToFuture[A any] struct {
	w interface {
		PollWriteTo(cx *smol.Context, p []byte, to A) (int, bool, error)
	}
	p  []byte
	to A
}

// Poll is one PollWriteTo.
func (f writeToFuture[A]) Poll(cx *smol.Context) (smol.Result[int], bool) {
	n, ok, err := f.w.PollWriteTo(cx, f.p, f.to)
	return smol.Result[int]{Value: n, Err: err}, ok
}
