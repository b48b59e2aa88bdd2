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
func (f readFuture) Poll(cx *smol.Context) (int, bool, error) { return f.r.PollRead(cx, f.p) }

type writeFuture struct {
	w pollWriter
	p []byte
}

// Poll is one PollWrite.
func (f writeFuture) Poll(cx *smol.Context) (int, bool, error) { return f.w.PollWrite(cx, f.p) }

// writeAllFuture writes until p is empty; n counts what was written.
type writeAllFuture struct {
	w pollWriter
	p []byte
	n int
}

// Poll writes until p is written, the socket is full, or an error; it is
// ready with the count written, which is short only with an error.
func (f *writeAllFuture) Poll(cx *smol.Context) (int, bool, error) {
	for f.n < len(f.p) {
		n, ok, err := f.w.PollWrite(cx, f.p[f.n:])
		if !ok {
			return 0, false, nil
		}
		f.n += n
		if err != nil {
			return f.n, true, err
		}
	}
	return f.n, true, nil
}

type acceptFuture[C any] struct{ l acceptor[C] }

// Poll is one PollAccept.
func (f acceptFuture[C]) Poll(cx *smol.Context) (C, bool, error) { return f.l.PollAccept(cx) }

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
func (f readFromFuture[A]) Poll(cx *smol.Context) (From[A], bool, error) {
	n, a, ok, err := f.r.PollReadFrom(cx, f.p)
	return From[A]{n, a}, ok, err
}

type writeToFuture[A any] struct {
	w interface {
		PollWriteTo(cx *smol.Context, p []byte, to A) (int, bool, error)
	}
	p  []byte
	to A
}

// Poll is one PollWriteTo.
func (f writeToFuture[A]) Poll(cx *smol.Context) (int, bool, error) {
	return f.w.PollWriteTo(cx, f.p, f.to)
}
