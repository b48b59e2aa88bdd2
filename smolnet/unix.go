package smolnet

import (
	"io"
	"net"
	"os"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// UnixListener is a Unix-domain stream socket listening for connections;
// it works as [TCPListener] does.
type UnixListener struct {
	l    listener
	path string
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
	fail := func(err error) (*UnixListener, error) {
		return nil, &net.OpError{Op: "listen", Net: "unix", Addr: unixAddr(path, "unix"), Err: err}
	}
	s, err := bindUnix(unix.SOCK_STREAM, path)
	if err != nil {
		return fail(err)
	}
	backlog := lc.Backlog
	if backlog <= 0 {
		backlog = defaultBacklog()
	}
	if err := unix.Listen(s, backlog); err != nil {
		unix.Close(s)
		return fail(sockErr("listen", err))
	}
	fd, err := smol.NewFD(s)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	return closeWhenUnreachable(&UnixListener{l: listener{fd: fd, onBackoff: lc.OnAcceptBackoff}, path: path}, fd), nil
}

// bindUnix creates a Unix-domain socket of type typ bound to path; an
// empty path leaves it unbound.
func bindUnix(typ int, path string) (s int, err error) {
	s, err = sysSocket(unix.AF_UNIX, typ)
	if err != nil {
		return -1, sockErr("socket", err)
	}
	if path != "" {
		if err := unix.Bind(s, &unix.SockaddrUnix{Name: path}); err != nil {
			unix.Close(s)
			return -1, sockErr("bind", err)
		}
	}
	return s, nil
}

// PollAccept accepts one connection; see [TCPListener.PollAccept] for
// pending, back-off and errors.
func (l *UnixListener) PollAccept(cx *smol.Context) (*UnixConn, bool, error) {
	nfd, _, ok, err := l.l.pollAccept(cx)
	if !ok {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, l.opErr("accept", sockErr("accept", err))
	}
	fd, err := smol.NewFD(nfd)
	if err != nil {
		unix.Close(nfd)
		return nil, true, l.opErr("accept", err)
	}
	fd.SetStream()
	// The client of a Unix socket is usually unbound, so its address is
	// empty, as in Go's net.
	return closeWhenUnreachable(&UnixConn{stream: stream{fd}, laddr: l.path}, fd), true, nil
}

// Accept returns a future of the next connection.
func (l *UnixListener) Accept() smol.Future[smol.Result[*UnixConn]] {
	return acceptFuture[*UnixConn]{l}
}

// Addr returns the listener's address, a *net.UnixAddr.
func (l *UnixListener) Addr() net.Addr { return unixAddr(l.path, "unix") }

// Close stops listening and removes the socket file; see
// [TCPListener.Close].
func (l *UnixListener) Close() error {
	if err := l.l.close(); err != nil {
		return l.opErr("close", sockErr("close", err))
	}
	if l.path != "" && l.path[0] != '@' {
		os.Remove(l.path)
	}
	return nil
}

func (l *UnixListener) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "unix", Addr: unixAddr(l.path, "unix"), Err: err}
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
func DialUnix(path string) smol.Future[smol.Result[*UnixConn]] {
	return &dialUnixFuture{path: path}
}

type dialUnixFuture struct {
	path string
	fd   *smol.FD // connecting, on systems where that takes a while
}

// Poll connects, or waits for a connect in progress to finish.
func (f *dialUnixFuture) Poll(cx *smol.Context) (smol.Result[*UnixConn], bool) {
	fail := func(err error) (smol.Result[*UnixConn], bool) {
		if f.fd != nil {
			f.fd.Close()
			f.fd = nil
		}
		return smol.Result[*UnixConn]{Err: &net.OpError{Op: "dial", Net: "unix", Addr: unixAddr(f.path, "unix"), Err: err}}, true
	}
	// Connect.
	if f.fd == nil {
		s, err := sysSocket(unix.AF_UNIX, unix.SOCK_STREAM)
		if err != nil {
			return fail(sockErr("socket", err))
		}
		fd, err := smol.NewFD(s)
		if err != nil {
			unix.Close(s)
			return fail(err)
		}
		fd.SetStream()
		f.fd = fd
		switch err := unix.Connect(s, &unix.SockaddrUnix{Name: f.path}); err {
		case nil:
			return f.done()
		case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		default:
			return fail(sockErr("connect", err))
		}
	}
	// Wait for an in-progress connect (BSDs) to finish.
	ok, err := f.fd.PollWritable(cx)
	if !ok {
		return smol.Result[*UnixConn]{}, false
	}
	if err == nil {
		err = control(f.fd, func(s int) error {
			soerr, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil && soerr != 0 {
				err = unix.Errno(soerr)
			}
			return err
		})
	}
	if err != nil {
		return fail(sockErr("connect", err))
	}
	return f.done()
}

func (f *dialUnixFuture) done() (smol.Result[*UnixConn], bool) {
	c := closeWhenUnreachable(&UnixConn{stream: stream{f.fd}, raddr: f.path}, f.fd)
	f.fd = nil
	return smol.Result[*UnixConn]{Value: c}, true
}

// UnixConn is a Unix-domain stream connection. It has the methods and
// semantics of [TCPConn], less the TCP options.
type UnixConn struct {
	stream
	laddr, raddr string
}

// PollRead reads into p; see [TCPConn.PollRead].
func (c *UnixConn) PollRead(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = c.pollRead(cx, p)
	if err != nil && err != io.EOF {
		err = c.opErr("read", err)
	}
	return n, ok, err
}

// PollWrite writes from p; see [TCPConn.PollWrite].
func (c *UnixConn) PollWrite(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = c.pollWrite(cx, p)
	if err != nil {
		err = c.opErr("write", err)
	}
	return n, ok, err
}

// Read returns a future of one read into p.
func (c *UnixConn) Read(p []byte) smol.Future[smol.Result[int]] { return readFuture{c, p} }

// Write returns a future of one write from p, which may be short.
func (c *UnixConn) Write(p []byte) smol.Future[smol.Result[int]] { return writeFuture{c, p} }

// WriteAll returns a future that writes all of p.
func (c *UnixConn) WriteAll(p []byte) smol.Future[error] { return &writeAllFuture{w: c, p: p} }

// CloseWrite shuts down the sending side; see [TCPConn.CloseWrite].
func (c *UnixConn) CloseWrite() error {
	if err := c.closeWrite(); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// Close closes the connection; see [TCPConn.Close].
func (c *UnixConn) Close() error {
	if err := c.close(); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// LocalAddr returns the local address, a *net.UnixAddr whose Name is
// empty if the socket is unbound (as in Go's net, never nil).
func (c *UnixConn) LocalAddr() net.Addr { return &net.UnixAddr{Name: c.laddr, Net: "unix"} }

// RemoteAddr returns the peer's address, a *net.UnixAddr whose Name is
// empty if the peer is unbound (as in Go's net, never nil).
func (c *UnixConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: c.raddr, Net: "unix"} }

func (c *UnixConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "unix", Source: unixAddr(c.laddr, "unix"), Addr: unixAddr(c.raddr, "unix"), Err: err}
}

// UnixgramConn is a Unix-domain datagram socket.
type UnixgramConn struct {
	fd   *smol.FD
	path string
}

// ListenUnixgram opens a Unix-domain datagram socket bound to path (empty:
// unbound, able to send but not to be answered). Close removes the socket
// file.
func ListenUnixgram(path string) (*UnixgramConn, error) {
	s, err := bindUnix(unix.SOCK_DGRAM, path)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "unixgram", Addr: unixAddr(path, "unixgram"), Err: err}
	}
	fd, err := smol.NewFD(s)
	if err != nil {
		unix.Close(s)
		return nil, &net.OpError{Op: "listen", Net: "unixgram", Addr: unixAddr(path, "unixgram"), Err: err}
	}
	return closeWhenUnreachable(&UnixgramConn{fd: fd, path: path}, fd), nil
}

// PollReadFrom receives one datagram into p, returning its length and the
// sender's path ("" for an unbound sender). A datagram longer than p is
// truncated to len(p). It is pending while none is queued.
func (c *UnixgramConn) PollReadFrom(cx *smol.Context, p []byte) (n int, from string, ok bool, err error) {
	var sa unix.Sockaddr
	n, ok, err = c.fd.PollReadWith(cx, func(s int) (int, error) {
		n, a, err := unix.Recvfrom(s, p, 0)
		sa = a
		return n, err
	})
	if !ok {
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
		return 0, false, nil
	}
	if err != nil {
		return 0, true, c.opErr("write", unixAddr(to, "unixgram"), sockErr("sendto", err))
	}
	return len(p), true, nil
}

// ReadFrom returns a future of one datagram read into p.
func (c *UnixgramConn) ReadFrom(p []byte) smol.Future[smol.Result[From[string]]] {
	return readFromFuture[string]{c, p}
}

// WriteTo returns a future that sends p to the socket at path to.
func (c *UnixgramConn) WriteTo(p []byte, to string) smol.Future[smol.Result[int]] {
	return writeToFuture[string]{c, p, to}
}

// LocalAddr returns the bound address, a *net.UnixAddr, or nil if unbound.
func (c *UnixgramConn) LocalAddr() net.Addr { return unixAddr(c.path, "unixgram") }

// Close closes the socket and removes its file; see [TCPConn.Close].
func (c *UnixgramConn) Close() error {
	if err := c.fd.Close(); err != nil {
		return c.opErr("close", nil, sockErr("close", err))
	}
	if c.path != "" && c.path[0] != '@' {
		os.Remove(c.path)
	}
	return nil
}

func (c *UnixgramConn) opErr(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "unixgram", Source: unixAddr(c.path, "unixgram"), Addr: addr, Err: err}
}
