package smolnet

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"unsafe"

	"github.com/smolgo/smol"
)

// endpoint is the address type of a kind of stream socket: tcpEndpoint for
// TCP, unixEndpoint for Unix. It names the network and produces the
// net.Addr values that the net package's interfaces return, so that
// [conn] and [listener] are written once for both. Its zero value is an
// unset (unbound) address.
type endpoint interface {
	// network is the network that connections with this kind of address
	// report: "tcp" or "unix".
	network() string
	// netAddr returns the address as a net.Addr for errors and listeners,
	// or nil (an untyped nil) if it is unset.
	netAddr() net.Addr
	// connAddr returns the address as a connection's LocalAddr and
	// RemoteAddr report it.
	connAddr() net.Addr
	// String formats the address for task dumps, "" if it is unset.
	String() string
	// release gives up what the bound address holds once its socket is
	// closed: a Unix socket's file.
	release()
}

// tcpEndpoint is the address of a TCP socket.
type tcpEndpoint netip.AddrPort

func (tcpEndpoint) network() string            { return "tcp" }
func (e tcpEndpoint) netAddr() net.Addr        { return tcpAddr(netip.AddrPort(e)) }
func (e tcpEndpoint) connAddr() net.Addr       { return e.netAddr() }
func (tcpEndpoint) release()                   {}
func (e tcpEndpoint) String() string           { return addrPortString(netip.AddrPort(e)) }
func (e tcpEndpoint) addrPort() netip.AddrPort { return netip.AddrPort(e) }

// unixEndpoint is the path of a Unix-domain socket, "" if it is unbound.
type unixEndpoint string

func (unixEndpoint) network() string     { return "unix" }
func (e unixEndpoint) netAddr() net.Addr { return unixAddr(string(e), "unix") }
func (e unixEndpoint) String() string    { return string(e) }
func (e unixEndpoint) release()          { removeSocketFile(string(e)) }

// connAddr is never nil, as in Go's net: an unbound socket's address is
// a *net.UnixAddr with an empty Name.
func (e unixEndpoint) connAddr() net.Addr { return &net.UnixAddr{Name: string(e), Net: "unix"} }

// conn is the core of a stream connection, as Go's netFD is of every
// net.Conn: the descriptor and the two addresses, and every method that
// does not depend on the network. [TCPConn] and [UnixConn] embed it. The
// network is a property of the address type A rather than a field, so an
// idle connection carries no string for it: a TCPConn is 48 bytes.
//
// A TCP connection on the completion path (uring_linux.go) has no FD: fd
// is nil, and laddr points to the first field of its *uconn, which ring
// recovers. That keeps the readiness path's idle connection at 48 bytes.
// Such a connection moves to the readiness path when it is first polled
// from outside its executor (see uconn.leave): fd is then stored, once,
// which is why it is atomic; every other connection has it from the start.
type conn[A endpoint] struct {
	fd    atomic.Pointer[smol.FD] // nil on the completion path
	laddr *A                      // the local address, often shared with the listener; nil if unbound; never changed
	raddr A                       // the peer's address; unset if the peer is unbound
}

// local returns the local address, unset if the socket is unbound.
func (c *conn[A]) local() A {
	if c.laddr == nil {
		var unset A
		return unset
	}
	return *c.laddr
}

// PollRead reads into p. It is pending while no data is buffered, and
// ready with n > 0 bytes, with io.EOF once the peer has shut down its side
// and everything it sent has been read, or with an error. An empty p reads
// nothing and is ready at once.
func (c *conn[A]) PollRead(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	if u := c.ring(); u != nil {
		n, ok, err = u.pollRead(cx, p)
		if fd, e := c.left(u, err); fd != nil {
			n, ok, err = fd.PollRead(cx, p)
		} else {
			err = e
		}
	} else {
		n, ok, err = c.fd.Load().PollRead(cx, p)
	}
	switch {
	case !ok:
		cx.WaitingOn(c, smol.WaitRead)
		return 0, false, nil
	case err != nil:
		return 0, true, c.opErr("read", sockErr("read", err))
	case n == 0:
		return 0, true, io.EOF
	}
	return n, true, nil
}

// PollWrite writes from p as much as the kernel takes at once, which may
// be less than len(p). It is pending while the kernel's send buffer is
// full. A write to a peer that has gone fails with EPIPE or ECONNRESET;
// no SIGPIPE is raised.
func (c *conn[A]) PollWrite(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	if u := c.ring(); u != nil {
		n, ok, err = u.pollWrite(cx, p)
		if fd, e := c.left(u, err); fd != nil {
			n, ok, err = fd.PollWriteWith(cx, func(fd int) (int, error) { return sysSend(fd, p) })
		} else {
			err = e
		}
	} else {
		n, ok, err = c.fd.Load().PollWriteWith(cx, func(fd int) (int, error) { return sysSend(fd, p) })
	}
	switch {
	case !ok:
		cx.WaitingOn(c, smol.WaitWrite)
		return 0, false, nil
	case err != nil:
		return 0, true, c.opErr("write", sockErr("write", err))
	}
	return n, true, nil
}

// Read returns a future of one read into p; see PollRead. p must not be
// touched until the future is ready.
func (c *conn[A]) Read(p []byte) smol.Future[int] { return readFuture{c, p} }

// Write returns a future of one write from p, which may be short; see
// PollWrite.
func (c *conn[A]) Write(p []byte) smol.Future[int] { return writeFuture{c, p} }

// WriteAll returns a future that writes all of p, in as many writes as it
// takes. It is ready with len(p), or fails with the first error and the
// count written before it.
func (c *conn[A]) WriteAll(p []byte) smol.Future[int] { return &writeAllFuture{w: c, p: p} }

// CloseWrite shuts down the sending side (shutdown(2) with SHUT_WR): the
// peer reads io.EOF once it has read everything sent before, and this side
// can still read what the peer sends.
func (c *conn[A]) CloseWrite() error {
	if err := c.control(shutdownWrite); err != nil {
		return c.opErr("close", sockErr("shutdown", err))
	}
	return nil
}

// Close closes the connection. Tasks waiting to read or write are woken
// and get an error matching net.ErrClosed, as do later calls; the
// descriptor is released once no system call is using it. Closing twice
// returns such an error.
func (c *conn[A]) Close() error {
	if u := c.ring(); u != nil {
		err := u.close()
		if err != errMoved {
			if err != nil {
				return c.opErr("close", sockErr("close", err))
			}
			return nil
		}
	}
	if err := c.fd.Load().Close(); err != nil {
		return c.opErr("close", sockErr("close", err))
	}
	return nil
}

// closed reports whether Close has been called.
func (c *conn[A]) closed() bool {
	return c.control(func(int) error { return nil }) != nil
}

// ring returns the connection's state on an io_uring ring, or nil if it
// is on the readiness path. A uconn starts with its local address, of
// type tcpEndpoint, and only TCP connections go on a ring, so the
// conversion names the whole uconn that laddr points into.
func (c *conn[A]) ring() *uconn {
	if c.fd.Load() != nil {
		return nil
	}
	return (*uconn)(unsafe.Pointer(c.laddr))
}

// left takes the error of a read or write on the ring u. If it says that
// the connection has moved, or may (it was polled from outside its
// executor; see uconn.leave), left returns the FD it uses now; otherwise
// nil and the error to report.
func (c *conn[A]) left(u *uconn, err error) (*smol.FD, error) {
	if err != errForeignRing && err != errMoved {
		return nil, err
	}
	fd, e := u.leave(&c.fd)
	if fd != nil {
		return fd, nil
	}
	if e == nil {
		e = err
	}
	return nil, e
}

// control runs op on the descriptor while it is kept open; see
// smol.FD.Control.
func (c *conn[A]) control(op func(s int) error) error {
	if u := c.ring(); u != nil {
		if err := u.control(op); err != errMoved {
			return err
		}
	}
	return c.fd.Load().Control(op)
}

// LocalAddr returns the local address: a *net.TCPAddr for a TCP
// connection; for a Unix one, a *net.UnixAddr whose Name is empty if the
// socket is unbound (never nil, as in Go's net).
func (c *conn[A]) LocalAddr() net.Addr { return c.local().connAddr() }

// RemoteAddr returns the peer's address: a *net.TCPAddr for a TCP
// connection; for a Unix one, a *net.UnixAddr whose Name is empty if the
// peer is unbound (never nil, as in Go's net).
func (c *conn[A]) RemoteAddr() net.Addr { return c.raddr.connAddr() }

// NetConn returns a blocking net.Conn over c, deadlines included, for use
// from goroutines; see [NetConn]. Call it once per connection and do not
// use c's own methods while the net.Conn is in use. Its deadlines are
// measured on the real clock, or on the one given with [smol.WithClock].
func (c *conn[A]) NetConn(opts ...smol.Option) *NetConn { return newNetConn(c, opts) }

// String describes the connection for task dumps: the network, the local
// address and, if the peer is bound, "<-" and the peer's address, as in
// "tcp 127.0.0.1:5000 <- 127.0.0.1:41234" or "unix /tmp/x.sock". It is
// safe to call from any goroutine.
func (c *conn[A]) String() string {
	return describe(c.raddr.network(), c.local().String(), c.raddr.String())
}

// opErr is the error of a failed operation: it names the network and
// both addresses.
func (c *conn[A]) opErr(op string, err error) error {
	return newOpError(op, c.raddr.network(), c.local().netAddr(), c.raddr.netAddr(), err)
}

// describe formats a socket for task dumps: "tcp 127.0.0.1:5000 <-
// 127.0.0.1:41234", leaving out the addresses that are unset.
func describe(network, local, remote string) string {
	s := network
	if local != "" {
		s += " " + local
	}
	if remote != "" {
		s += " <- " + remote
	}
	return s
}

// addrPortString formats ap, "" if it is unset.
func addrPortString(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return ap.String()
}

// removeSocketFile removes the file of a Unix socket bound to path; an
// unbound socket, or one in Linux's abstract namespace ('@'), has none.
func removeSocketFile(path string) {
	if path != "" && path[0] != '@' {
		os.Remove(path)
	}
}
