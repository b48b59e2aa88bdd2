package smolnet

import (
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// TCPListener is a TCP socket listening for connections. Accept them with
// [TCPListener.PollAccept] from a hand-written future, with the
// [TCPListener.Accept] future, or from goroutines through
// [TCPListener.NetListener].
//
// One task should accept at a time: two tasks waiting on one listener
// displace each other and keep each other busy with wakes (see the package
// documentation's Limits).
type TCPListener struct {
	l         listener
	addr      netip.AddrPort
	network   string
	keepAlive time.Duration
}

// Listen listens for TCP connections on address, on network "tcp", "tcp4"
// or "tcp6", with the default [ListenConfig]. See [ListenConfig.Listen].
func Listen(network, address string) (*TCPListener, error) {
	var lc ListenConfig
	return lc.Listen(network, address)
}

// Listen listens for TCP connections on address, on network "tcp", "tcp4"
// or "tcp6". An address with an empty host (":8080") listens on every
// local address: on "tcp", IPv6 and IPv4 together where the system allows
// it. Port 0 picks a free port; [TCPListener.Addr] tells which.
//
// A host name in address is resolved on the calling goroutine, which
// blocks; inside a task, listen on an IP literal or resolve it first with
// [Resolve]. Errors are *net.OpError values with Op "listen".
func (lc *ListenConfig) Listen(network, address string) (*TCPListener, error) {
	fail := func(addr net.Addr, err error) (*TCPListener, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: err}
	}
	// Check the network and resolve the address.
	ver, err := ipNetwork(network, "tcp")
	if err != nil {
		return fail(nil, err)
	}
	ap, err := listenAddr(network, ver, address)
	if err != nil {
		return fail(nil, err)
	}
	s, err := listenIP(unix.SOCK_STREAM, ver, ap, func(s int) error {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return sockErr("setsockopt", err)
		}
		if lc.ReusePort {
			if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return sockErr("setsockopt", err)
			}
		}
		return nil
	})
	if err != nil {
		return fail(tcpAddr(ap), err)
	}
	// Listen, and hand the socket to the reactor.
	backlog := lc.Backlog
	if backlog <= 0 {
		backlog = defaultBacklog()
	}
	if err := unix.Listen(s, backlog); err != nil {
		unix.Close(s)
		return fail(tcpAddr(ap), sockErr("listen", err))
	}
	bound, err := localAddrPort(s)
	if err != nil {
		unix.Close(s)
		return fail(tcpAddr(ap), sockErr("getsockname", err))
	}
	fd, err := smol.NewFD(s)
	if err != nil {
		unix.Close(s)
		return fail(tcpAddr(bound), err)
	}
	return closeWhenUnreachable(&TCPListener{
		l:         listener{fd: fd, onBackoff: lc.OnAcceptBackoff},
		addr:      bound,
		network:   network,
		keepAlive: lc.KeepAlive,
	}, fd), nil
}

// listenIP creates an IP socket of type typ bound to ap. An invalid
// ap.Addr() means every local address: IPv4 only for ver 4, IPv6 only for
// ver 6, and for ver 0 IPv6 with IPv4 mapped in (dual stack), or IPv4 if
// the system has no IPv6. setup runs before bind.
func listenIP(typ int, ver byte, ap netip.AddrPort, setup func(s int) error) (s int, err error) {
	// Pick the family.
	family, v6only := unix.AF_INET, false
	ip := ap.Addr()
	switch {
	case !ip.IsValid() && ver == 4:
		ip = netip.IPv4Unspecified()
	case !ip.IsValid():
		family, v6only, ip = unix.AF_INET6, ver == 6, netip.IPv6Unspecified()
	case ip.Is6():
		family, v6only = unix.AF_INET6, ver == 6
	}
	s, err = sysSocket(family, typ)
	if err == unix.EAFNOSUPPORT && family == unix.AF_INET6 && ver == 0 && !ap.Addr().IsValid() {
		// No IPv6 here: a wildcard "tcp" listener is IPv4 only.
		family, v6only, ip = unix.AF_INET, false, netip.IPv4Unspecified()
		s, err = sysSocket(family, typ)
	}
	if err != nil {
		return -1, sockErr("socket", err)
	}
	defer closeOnError(s, &err)
	// Options, then bind.
	if family == unix.AF_INET6 {
		if err = unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolint(v6only)); err != nil {
			return -1, sockErr("setsockopt", err)
		}
	}
	if setup != nil {
		if err = setup(s); err != nil {
			return -1, err
		}
	}
	sa, err := addrPortToSockaddr(family, netip.AddrPortFrom(ip, ap.Port()))
	if err != nil {
		return -1, err
	}
	if err = unix.Bind(s, sa); err != nil {
		return -1, sockErr("bind", err)
	}
	return s, nil
}

// PollAccept accepts one connection. It is pending until a client is
// queued. Accepting with a file-descriptor limit reached (EMFILE, ENFILE)
// or out of kernel memory is not an error: the listener retries on a
// timer, from 1 ms doubling to 100 ms, and PollAccept stays pending
// meanwhile, so the executor keeps serving existing connections and no
// queued client is dropped (see [ListenConfig.OnAcceptBackoff]).
//
// Accepted connections have TCP_NODELAY set and keep-alive on, as in Go's
// net. Errors are *net.OpError values with Op "accept"; after Close the
// error matches net.ErrClosed.
func (l *TCPListener) PollAccept(cx *smol.Context) (*TCPConn, bool, error) {
	nfd, sa, ok, err := l.l.pollAccept(cx)
	if !ok {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, l.opErr("accept", sockErr("accept", err))
	}
	c, err := l.newConn(nfd, sa)
	if err != nil {
		return nil, true, l.opErr("accept", err)
	}
	return c, true, nil
}

// newConn wraps an accepted socket. Options are set on the bare descriptor,
// which no one else can see yet.
func (l *TCPListener) newConn(nfd int, sa unix.Sockaddr) (c *TCPConn, err error) {
	defer func() {
		if err != nil {
			unix.Close(nfd)
		}
	}()
	if err := unix.SetsockoptInt(nfd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return nil, sockErr("setsockopt", err)
	}
	if err := setKeepAlive(nfd, l.keepAlive); err != nil {
		return nil, sockErr("setsockopt", err)
	}
	// The local address is the listener's unless it listens on every
	// address, when only the kernel knows which one the client reached.
	// Connections share the listener's copy when they can: it is 32 bytes
	// of every idle connection otherwise.
	laddr := &l.addr
	if !laddr.Addr().IsValid() || laddr.Addr().IsUnspecified() {
		ap, err := localAddrPort(nfd)
		if err != nil {
			return nil, sockErr("getsockname", err)
		}
		laddr = &ap
	}
	fd, err := smol.NewFD(nfd)
	if err != nil {
		return nil, err
	}
	fd.SetStream()
	return closeWhenUnreachable(&TCPConn{stream: stream{fd}, laddr: laddr, raddr: sockaddrToAddrPort(sa)}, fd), nil
}

// Accept returns a future of the next connection; see
// [TCPListener.PollAccept].
func (l *TCPListener) Accept() smol.Future[smol.Result[*TCPConn]] {
	return acceptFuture[*TCPConn]{l}
}

// Addr returns the address the listener is bound to, a *net.TCPAddr.
func (l *TCPListener) Addr() net.Addr { return tcpAddr(l.addr) }

// AddrPort returns the address the listener is bound to.
func (l *TCPListener) AddrPort() netip.AddrPort { return l.addr }

// Close stops listening. Tasks waiting in PollAccept are woken and get an
// error matching net.ErrClosed; clients still queued are refused. Closing
// twice returns such an error too.
func (l *TCPListener) Close() error {
	if err := l.l.close(); err != nil {
		return l.opErr("close", sockErr("close", err))
	}
	return nil
}

func (l *TCPListener) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: l.network, Addr: tcpAddr(l.addr), Err: err}
}

// stream is the descriptor of a connected stream socket (TCP or Unix) and
// the reads and writes they share; errors are raw, for the caller to wrap.
type stream struct {
	fd *smol.FD
}

func (s *stream) pollRead(cx *smol.Context, p []byte) (int, bool, error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	n, ok, err := s.fd.PollRead(cx, p)
	switch {
	case !ok:
		return 0, false, nil
	case err != nil:
		return 0, true, sockErr("read", err)
	case n == 0:
		return 0, true, io.EOF
	}
	return n, true, nil
}

func (s *stream) pollWrite(cx *smol.Context, p []byte) (int, bool, error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	n, ok, err := s.fd.PollWriteWith(cx, func(fd int) (int, error) { return sysSend(fd, p) })
	switch {
	case !ok:
		return 0, false, nil
	case err != nil:
		return 0, true, sockErr("write", err)
	}
	return n, true, nil
}

func (s *stream) closeWrite() error {
	return sockErr("shutdown", control(s.fd, func(fd int) error { return unix.Shutdown(fd, unix.SHUT_WR) }))
}

func (s *stream) close() error { return sockErr("close", s.fd.Close()) }

// closed reports whether Close has been called.
func (s *stream) closed() bool {
	return control(s.fd, func(int) error { return nil }) != nil
}

// TCPConn is a TCP connection. Its poll methods suit hand-written futures
// (one state machine per connection, no goroutine); [TCPConn.Read],
// [TCPConn.Write] and [TCPConn.WriteAll] wrap them as futures; and
// [TCPConn.NetConn] gives a blocking net.Conn for goroutine code.
//
// One task may read while another writes. Two tasks reading at once (or
// writing at once) displace each other and keep each other busy with wakes
// until the socket is ready; avoid that.
//
// Back-pressure: PollWrite is pending while the kernel's send buffer is
// full, that is, while the peer does not read. A server that stops reading
// from a connection while its writes are pending buffers nothing more than
// what it has already read.
//
// Errors are *net.OpError values (Op "read", "write" or "close") whose Err
// is an *os.SyscallError (errors.Is(err, syscall.ECONNRESET) holds for a
// reset) or net.ErrClosed once the connection is closed. The end of the
// stream is io.EOF, unwrapped, as in Go's net.
type TCPConn struct {
	stream
	laddr *netip.AddrPort // often shared with the listener; never changed
	raddr netip.AddrPort
}

// PollRead reads into p. It is pending while no data is buffered, and ready
// with n > 0 bytes, with io.EOF once the peer has shut down its side and
// everything it sent has been read, or with an error. An empty p reads
// nothing and is ready at once.
func (c *TCPConn) PollRead(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = c.pollRead(cx, p)
	if err != nil && err != io.EOF {
		err = c.opErr("read", err)
	}
	return n, ok, err
}

// PollWrite writes from p as much as the kernel takes at once, which may
// be less than len(p). It is pending while the kernel's send buffer is
// full. A write to a peer that has gone fails with EPIPE or ECONNRESET;
// no SIGPIPE is raised.
func (c *TCPConn) PollWrite(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = c.pollWrite(cx, p)
	if err != nil {
		err = c.opErr("write", err)
	}
	return n, ok, err
}

// Read returns a future of one read into p; see [TCPConn.PollRead]. p must
// not be touched until the future is ready.
func (c *TCPConn) Read(p []byte) smol.Future[smol.Result[int]] { return readFuture{c, p} }

// Write returns a future of one write from p, which may be short; see
// [TCPConn.PollWrite].
func (c *TCPConn) Write(p []byte) smol.Future[smol.Result[int]] { return writeFuture{c, p} }

// WriteAll returns a future that writes all of p, in as many writes as it
// takes, and is ready with nil or with the first error.
func (c *TCPConn) WriteAll(p []byte) smol.Future[error] { return &writeAllFuture{w: c, p: p} }

// CloseWrite shuts down the sending side (shutdown(2) with SHUT_WR): the
// peer reads io.EOF once it has read everything sent before, and this side
// can still read what the peer sends.
func (c *TCPConn) CloseWrite() error {
	if err := c.closeWrite(); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// Close closes the connection. Tasks waiting to read or write are woken and
// get an error matching net.ErrClosed, as do later calls; the descriptor is
// released once no system call is using it. Closing twice returns such an
// error.
func (c *TCPConn) Close() error {
	if err := c.close(); err != nil {
		return c.opErr("close", err)
	}
	return nil
}

// LocalAddr returns the local address, a *net.TCPAddr.
func (c *TCPConn) LocalAddr() net.Addr { return tcpAddr(*c.laddr) }

// RemoteAddr returns the peer's address, a *net.TCPAddr.
func (c *TCPConn) RemoteAddr() net.Addr { return tcpAddr(c.raddr) }

// LocalAddrPort returns the local address.
func (c *TCPConn) LocalAddrPort() netip.AddrPort { return *c.laddr }

// RemoteAddrPort returns the peer's address.
func (c *TCPConn) RemoteAddrPort() netip.AddrPort { return c.raddr }

// SetNoDelay controls Nagle's algorithm: with noDelay true (the default,
// as in Go's net) small writes are sent at once rather than coalesced.
func (c *TCPConn) SetNoDelay(noDelay bool) error {
	return c.setErr(setsockoptInt(c.fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(noDelay)))
}

// SetKeepAlive turns keep-alive probes on or off (on by default).
func (c *TCPConn) SetKeepAlive(keepAlive bool) error {
	return c.setErr(setsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(keepAlive)))
}

// SetKeepAlivePeriod turns keep-alive on with period d, rounded up to whole
// seconds, as both the idle time before the first probe and the interval
// between probes.
func (c *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		d = time.Second
	}
	return c.setErr(control(c.fd, func(s int) error { return setKeepAlive(s, d) }))
}

// SetLinger sets what Close does with unsent data, as in Go's net: sec < 0
// (the default) sends it in the background; sec == 0 discards it and
// resets the connection (the peer sees ECONNRESET); sec > 0 sends it in
// the background and resets after sec seconds.
func (c *TCPConn) SetLinger(sec int) error {
	l := unix.Linger{Onoff: int32(boolint(sec >= 0)), Linger: int32(max(sec, 0))}
	return c.setErr(control(c.fd, func(s int) error {
		return unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &l)
	}))
}

// SetReadBuffer sets the size of the kernel's receive buffer.
func (c *TCPConn) SetReadBuffer(bytes int) error {
	return c.setErr(setsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes))
}

// SetWriteBuffer sets the size of the kernel's send buffer.
func (c *TCPConn) SetWriteBuffer(bytes int) error {
	return c.setErr(setsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes))
}

func (c *TCPConn) setErr(err error) error {
	if err != nil {
		return c.opErr("set", sockErr("setsockopt", err))
	}
	return nil
}

func (c *TCPConn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: tcpAddr(*c.laddr), Addr: tcpAddr(c.raddr), Err: err}
}
