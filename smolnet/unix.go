package smolnet

import (
	"net"
	"runtime"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// UnixListener is a Unix-domain stream socket listening for connections;
// it works as [TCPListener] does.
type UnixListener struct {
	listener[unixEndpoint]
}

// ListenUnix listens for Unix-domain stream connections on the socket file
// path (on Linux, a name starting with '@' is in the abstract namespace and
// creates no file), with the default [ListenConfig].
func ListenUnix(path string) (*UnixListener, error) {
	var lc ListenConfig
	return lc.ListenUnix(path)
}

// ListenUnix listens for Unix-domain stream connections on path. The
// socket file must not exist; Close removes it. Of the configuration, only
// Backlog and OnAcceptBackoff apply. Errors are *net.OpError values with Op
// "listen".
func (lc *ListenConfig) ListenUnix(path string) (*UnixListener, error) {
	fd, err := bindUnix(unix.SOCK_STREAM, path, lc.listen)
	if err != nil {
		return nil, newOpError("listen", "unix", nil, unixAddr(path, "unix"), err)
	}
	return closeWhenUnreachable(&UnixListener{listener[unixEndpoint]{
		fd:        fd,
		network:   "unix",
		addr:      unixEndpoint(path),
		onBackoff: lc.OnAcceptBackoff,
	}}, fd), nil
}

// bindUnix creates and registers a Unix-domain socket of type typ bound
// to path (an empty path leaves it unbound), running then, if not nil,
// after bind.
func bindUnix(typ int, path string, then func(s int) error) (*smol.FD, error) {
	return newSocket(unix.AF_UNIX, typ, func(s int) error {
		if path != "" {
			if err := unix.Bind(s, &unix.SockaddrUnix{Name: path}); err != nil {
				return sockErr("bind", err)
			}
		}
		if then != nil {
			return then(s)
		}
		return nil
	})
}

// PollAccept accepts one connection; see [TCPListener.PollAccept] for
// pending, back-off and errors.
func (l *UnixListener) PollAccept(cx *smol.Context) (*UnixConn, bool, error) {
	fd, _, ok, err := l.pollAccept(cx, nil)
	if !ok || err != nil {
		return nil, ok, err
	}
	// The client of a Unix socket is usually unbound, so its address is
	// empty, as in Go's net.
	return newUnixConn(fd, &l.addr, ""), true, nil
}

// Accept returns a future of the next connection.
func (l *UnixListener) Accept() smol.Future[*UnixConn] {
	return acceptFuture[*UnixConn]{l}
}

// unixAddr converts a socket path to a net.Addr, nil (an untyped nil) for
// an unbound socket.
func unixAddr(path, network string) net.Addr {
	if path == "" {
		return nil
	}
	return &net.UnixAddr{Name: path, Net: network}
}

// DialUnix returns a future that connects to the Unix-domain stream socket
// at path. A Unix connect completes or fails at once, except that a
// listener whose queue is full makes it fail with EAGAIN, as in Go's net.
// Errors are *net.OpError values with Op "dial".
func DialUnix(path string) smol.Future[*UnixConn] {
	return &dialUnixFuture{path: path}
}

type dialUnixFuture struct {
	path string
	fd   *smol.FD // connecting, on systems where that takes a while
}

// Poll connects, or waits for a connect in progress to finish.
func (f *dialUnixFuture) Poll(cx *smol.Context) (*UnixConn, bool, error) {
	if f.fd == nil {
		fd, connected, err := connect(unix.AF_UNIX, &unix.SockaddrUnix{Name: f.path})
		if err != nil {
			return nil, true, f.opErr(err)
		}
		f.fd = fd
		if connected {
			return f.done()
		}
	}
	// Wait for an in-progress connect (BSDs) to finish.
	ok, err := pollConnect(cx, f.fd)
	if !ok {
		cx.WaitingOn(f, smol.WaitOther)
		return nil, false, nil
	}
	if err != nil {
		f.Discard()
		return nil, true, f.opErr(err)
	}
	return f.done()
}

func (f *dialUnixFuture) done() (*UnixConn, bool, error) {
	c := newUnixConn(f.fd, nil, unixEndpoint(f.path))
	f.fd = nil
	return c, true, nil
}

func (f *dialUnixFuture) opErr(err error) error {
	return newOpError("dial", "unix", nil, unixAddr(f.path, "unix"), err)
}

// Discard closes a socket being connected.
func (f *dialUnixFuture) Discard() {
	if f.fd != nil {
		f.fd.Close()
		f.fd = nil
	}
}

// String describes the dial for task dumps: "dial unix /tmp/x.sock".
func (f *dialUnixFuture) String() string { return "dial unix " + f.path }

// UnixConn is a Unix-domain stream connection. It has the methods and
// semantics of [TCPConn], less the TCP options.
type UnixConn struct {
	conn[unixEndpoint]
}

// newUnixConn wraps a connected socket; laddr may be shared, or nil for
// an unbound socket.
func finalizeUnixConn(c *UnixConn) { finalizeConn(&c.conn) }

func newUnixConn(fd *smol.FD, laddr *unixEndpoint, raddr unixEndpoint) *UnixConn {
	c := &UnixConn{conn[unixEndpoint]{laddr: laddr, raddr: raddr}}
	c.fd.Store(fd)
	runtime.SetFinalizer(c, finalizeUnixConn) // see finalizeConn
	return c
}

// UnixgramConn is a Unix-domain datagram socket.
type UnixgramConn struct {
	fd   *smol.FD
	path unixEndpoint
}

// ListenUnixgram opens a Unix-domain datagram socket bound to path (empty:
// unbound, able to send but not to be answered). Close removes the socket
// file.
func ListenUnixgram(path string) (*UnixgramConn, error) {
	fd, err := bindUnix(unix.SOCK_DGRAM, path, nil)
	if err != nil {
		return nil, newOpError("listen", "unixgram", nil, unixAddr(path, "unixgram"), err)
	}
	return closeWhenUnreachable(&UnixgramConn{fd: fd, path: unixEndpoint(path)}, fd), nil
}

// PollReadFrom receives one datagram into p, returning its length and the
// sender's path ("" for an unbound sender). A datagram longer than p is
// truncated to len(p). It is pending while none is queued.
func (c *UnixgramConn) PollReadFrom(cx *smol.Context, p []byte) (n int, from string, ok bool, err error) {
	n, sa, ok, err := pollRecvFrom(cx, c.fd, p)
	if !ok {
		cx.WaitingOn(c, smol.WaitRead)
		return 0, "", false, nil
	}
	if err != nil {
		return 0, "", true, c.opErr("read", nil, sockErr("recvfrom", err))
	}
	if su, isUnix := sa.(*unix.SockaddrUnix); isUnix {
		from = su.Name
	}
	return n, from, true, nil
}

// PollWriteTo sends p as one datagram to the socket at path to. It is
// pending while the receiver's queue is full.
func (c *UnixgramConn) PollWriteTo(cx *smol.Context, p []byte, to string) (n int, ok bool, err error) {
	sa := &unix.SockaddrUnix{Name: to}
	_, ok, err = c.fd.PollWriteWith(cx, func(s int) (int, error) { return 0, sysSendto(s, p, sa) })
	if !ok {
		cx.WaitingOn(c, smol.WaitWrite)
		return 0, false, nil
	}
	if err != nil {
		return 0, true, c.opErr("write", unixAddr(to, "unixgram"), sockErr("sendto", err))
	}
	return len(p), true, nil
}

// ReadFrom returns a future of one datagram read into p.
func (c *UnixgramConn) ReadFrom(p []byte) smol.Future[From[string]] {
	return readFromFuture[string]{c, p}
}

// WriteTo returns a future that sends p to the socket at path to.
func (c *UnixgramConn) WriteTo(p []byte, to string) smol.Future[int] {
	return writeToFuture[string]{c, p, to}
}

// LocalAddr returns the bound address, a *net.UnixAddr, or nil if unbound.
func (c *UnixgramConn) LocalAddr() net.Addr { return unixAddr(string(c.path), "unixgram") }

// Close closes the socket and removes its file; see [TCPConn.Close].
func (c *UnixgramConn) Close() error {
	if err := c.fd.Close(); err != nil {
		return c.opErr("close", nil, sockErr("close", err))
	}
	c.path.release()
	return nil
}

// String describes the socket for task dumps: "unixgram /tmp/x.sock".
func (c *UnixgramConn) String() string { return describe("unixgram", c.path.String(), "") }

func (c *UnixgramConn) opErr(op string, addr net.Addr, err error) error {
	return newOpError(op, "unixgram", unixAddr(string(c.path), "unixgram"), addr, err)
}
