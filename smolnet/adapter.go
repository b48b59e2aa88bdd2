package smolnet

import (
	"net"
	"os"
	"sync"
	"time"

	"github.com/smolgo/smol"
)

// The blocking adapters let goroutine code (bufio, io.Copy, crypto/tls,
// net/http) use smolnet sockets. Each blocking call runs a small future
// with smol.BlockOn, which parks the goroutine (or lets it drive the
// reactor) until the socket is ready, the deadline passes, the deadline is
// changed, or the socket is closed.
//
// As in Go's net, reads are serialized among themselves, and so are
// writes: a goroutine calling Read while another is blocked in Read waits
// for it. The socket could take more waiters (any number of tasks may
// wait in one direction of a smol.FD), but every readiness would wake them
// all for one of them to get the data, and concurrent reads of one stream
// interleave their bytes anyway. A deadline is per direction and per
// connection, so a deadline that passes or a Close releases the blocked
// call and then each queued one in turn.

// streamConn is what the adapter needs of a connection: the methods of
// the connection core, conn, that TCPConn and UnixConn embed.
type streamConn interface {
	PollRead(cx *smol.Context, p []byte) (int, bool, error)
	PollWrite(cx *smol.Context, p []byte) (int, bool, error)
	CloseWrite() error
	Close() error
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
	opErr(op string, err error) error
	closed() bool
}

func newNetConn(c streamConn, opts []smol.Option) *NetConn {
	nc := &NetConn{c: c, opts: opts}
	nc.rop = connOp{nc: nc, dl: &nc.rd}
	nc.wop = connOp{nc: nc, dl: &nc.wd, write: true}
	return nc
}

// NetConn is a blocking net.Conn over a [TCPConn] or [UnixConn], for
// goroutines. Read and Write block the calling goroutine until done, until
// the deadline set for their direction passes (the error then has
// Timeout() true and matches os.ErrDeadlineExceeded), or until Close.
// Deadlines may be set and changed from any goroutine at any time,
// including while a call is blocked: the call sees the new deadline at
// once. All methods are safe for concurrent use.
type NetConn struct {
	c        streamConn
	opts     []smol.Option // for BlockOn: the clock of the deadlines
	rmu, wmu sync.Mutex    // serialize reads, writes
	rd, wd   deadline
	rop, wop connOp // the blocking call in progress, guarded by rmu, wmu
}

var _ net.Conn = (*NetConn)(nil)

// Read reads into p, blocking until at least one byte is read, the end of
// the stream (io.EOF), an error, or the read deadline.
func (nc *NetConn) Read(p []byte) (int, error) {
	nc.rmu.Lock()
	defer nc.rmu.Unlock()
	return nc.rop.run(p)
}

// Write writes all of p, blocking until it is written, an error, or the
// write deadline; on error it returns the number of bytes written before.
func (nc *NetConn) Write(p []byte) (int, error) {
	nc.wmu.Lock()
	defer nc.wmu.Unlock()
	return nc.wop.run(p)
}

// Close closes the connection; blocked Reads and Writes return an error
// matching net.ErrClosed.
func (nc *NetConn) Close() error { return nc.c.Close() }

// CloseWrite shuts down the sending side; the peer reads io.EOF.
func (nc *NetConn) CloseWrite() error { return nc.c.CloseWrite() }

// LocalAddr returns the local address.
func (nc *NetConn) LocalAddr() net.Addr { return nc.c.LocalAddr() }

// RemoteAddr returns the peer's address.
func (nc *NetConn) RemoteAddr() net.Addr { return nc.c.RemoteAddr() }

// SetDeadline sets both the read and the write deadline; see
// [NetConn.SetReadDeadline].
func (nc *NetConn) SetDeadline(t time.Time) error {
	if nc.c.closed() {
		return nc.c.opErr("set", net.ErrClosed)
	}
	nc.rd.set(t)
	nc.wd.set(t)
	return nil
}

// SetReadDeadline sets the time after which reads fail with a timeout,
// whether they are blocked now or start later; a zero t means none. A
// deadline in the past fails reads at once, even with data buffered.
func (nc *NetConn) SetReadDeadline(t time.Time) error {
	if nc.c.closed() {
		return nc.c.opErr("set", net.ErrClosed)
	}
	nc.rd.set(t)
	return nil
}

// SetWriteDeadline sets the time after which writes fail with a timeout;
// see [NetConn.SetReadDeadline]. A write that times out may have written
// part of its buffer.
func (nc *NetConn) SetWriteDeadline(t time.Time) error {
	if nc.c.closed() {
		return nc.c.opErr("set", net.ErrClosed)
	}
	nc.wd.set(t)
	return nil
}

// deadline is the deadline of one direction, and the waker of the blocked
// call watching it, which set wakes so that the call re-reads it.
type deadline struct {
	mu    sync.Mutex
	when  time.Time
	waker smol.Waker
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	d.when = t
	w := d.waker
	d.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

// watch registers w to be woken on a change and returns the deadline. The
// registration comes first, under the same lock: a set either happens
// before (and its value is returned) or after (and wakes w).
func (d *deadline) watch(w smol.Waker) time.Time {
	d.mu.Lock()
	d.waker = w
	t := d.when
	d.mu.Unlock()
	return t
}

// connOp is one blocking Read or Write as a future: the socket operation
// raced against the deadline's timer and the deadline's changes.
type connOp struct {
	nc    *NetConn
	dl    *deadline
	write bool
	p     []byte
	n     int
	err   error
	timer *smol.Timer // reused across calls; armed only while blocked
	armed time.Time   // the deadline the timer is set to (zero: not set)
}

// run performs one call on the calling goroutine.
func (op *connOp) run(p []byte) (int, error) {
	op.p, op.n, op.err = p, 0, nil
	_, _ = smol.BlockOn(op, op.nc.opts...) // the outcome is in op
	op.dl.watch(nil)
	if !op.armed.IsZero() {
		op.timer.Stop()
		op.armed = time.Time{}
	}
	n, err := op.n, op.err
	op.p, op.err = nil, nil
	return n, err
}

// Poll checks the deadline, then tries the operation, then (if it is
// pending) arms the timer for the deadline.
func (op *connOp) Poll(cx *smol.Context) (struct{}, bool, error) {
	// A deadline that has passed fails the call before any I/O, as in
	// Go's net, even if the socket is ready.
	when := op.dl.watch(cx.Waker())
	if !when.IsZero() && !cx.Driver().Now().Before(when) {
		return op.timeout()
	}
	// The operation. A write loops until p is written or the socket is
	// full.
	for {
		var n int
		var ok bool
		var err error
		if op.write {
			n, ok, err = op.nc.c.PollWrite(cx, op.p[op.n:])
		} else {
			n, ok, err = op.nc.c.PollRead(cx, op.p)
		}
		if !ok {
			break
		}
		op.n += n
		if err != nil || !op.write || op.n == len(op.p) {
			op.err = err
			return struct{}{}, true, nil
		}
	}
	// Pending: the timer wakes the call at the deadline.
	if when.IsZero() {
		return struct{}{}, false, nil
	}
	if !when.Equal(op.armed) {
		if op.timer == nil {
			op.timer = smol.At(when)
		} else {
			op.timer.ResetAt(when)
		}
		op.armed = when
	}
	if _, fired, _ := op.timer.Poll(cx); fired {
		return op.timeout()
	}
	return struct{}{}, false, nil
}

func (op *connOp) timeout() (struct{}, bool, error) {
	name := "read"
	if op.write {
		name = "write"
	}
	op.err = op.nc.c.opErr(name, os.ErrDeadlineExceeded)
	return struct{}{}, true, nil
}

// NetListener returns a blocking net.Listener over l, for goroutine code
// such as net/http's Server.Serve. Its Accept blocks the calling goroutine
// and returns a [*NetConn], made with opts; Close releases a blocked
// Accept. Do not accept with l's own methods while the net.Listener is in
// use.
func (l *TCPListener) NetListener(opts ...smol.Option) net.Listener {
	return &netListener[*TCPConn]{l: l, wrap: func(c *TCPConn) *NetConn { return c.NetConn(opts...) }, opts: opts}
}

// NetListener returns a blocking net.Listener over l; see
// [TCPListener.NetListener].
func (l *UnixListener) NetListener(opts ...smol.Option) net.Listener {
	return &netListener[*UnixConn]{l: l, wrap: func(c *UnixConn) *NetConn { return c.NetConn(opts...) }, opts: opts}
}

type netListener[C any] struct {
	l interface {
		acceptor[C]
		Addr() net.Addr
		Close() error
	}
	wrap func(C) *NetConn
	opts []smol.Option
	mu   sync.Mutex // serializes Accept, as in Go's net
}

// Accept blocks until a connection arrives or the listener is closed.
func (nl *netListener[C]) Accept() (net.Conn, error) {
	nl.mu.Lock()
	defer nl.mu.Unlock()
	c, err := smol.BlockOn(acceptFuture[C]{nl.l}, nl.opts...)
	if err != nil {
		return nil, err
	}
	return nl.wrap(c), nil
}

// Close closes the listener; a blocked Accept returns net.ErrClosed.
func (nl *netListener[C]) Close() error { return nl.l.Close() }

// Addr returns the listener's address.
func (nl *netListener[C]) Addr() net.Addr { return nl.l.Addr() }
