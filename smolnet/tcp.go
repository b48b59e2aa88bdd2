package smolnet

import (
	"net/netip"
	"runtime"
	"time"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// TCPListener is a TCP socket listening for connections. Accept them with
// [TCPListener.PollAccept] from a hand-written future, with the
// [TCPListener.Accept] future, or from goroutines through
// [TCPListener.NetListener]. Any number of tasks may accept on one
// listener: the next client wakes them all, one takes it, and the others
// wait again.
type TCPListener struct {
	listener[tcpEndpoint]
	keepAlive time.Duration
	ring      bool // ListenConfig.IOURing
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
	ap, err := resolveListen(network, "tcp", address)
	if err != nil {
		return nil, newOpError("listen", network, nil, nil, err)
	}
	var bound netip.AddrPort
	fd, err := listenIP(unix.SOCK_STREAM, ap, func(s int) error {
		if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return sockErr("setsockopt", err)
		}
		if lc.ReusePort {
			if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return sockErr("setsockopt", err)
			}
		}
		return nil
	}, func(s int) (err error) {
		if err := lc.listen(s); err != nil {
			return err
		}
		bound, err = localAddrPort(s)
		return sockErr("getsockname", err)
	})
	if err != nil {
		return nil, newOpError("listen", network, nil, tcpAddr(ap.AddrPort), err)
	}
	return closeWhenUnreachable(&TCPListener{
		listener: listener[tcpEndpoint]{
			fd:        fd,
			network:   network,
			addr:      tcpEndpoint(bound),
			onBackoff: lc.OnAcceptBackoff,
		},
		keepAlive: lc.KeepAlive,
		ring:      lc.IOURing,
	}, fd), nil
}

// resolveListen parses and resolves the address of a listening IP socket
// (see addrSpec).
func resolveListen(network, base, address string) (ipListenAddr, error) {
	spec, err := parseAddr(network, base, address)
	if err != nil {
		return ipListenAddr{}, err
	}
	t, err := spec.resolve(true)
	if err != nil {
		return ipListenAddr{}, err
	}
	return ipListenAddr{t.first(), spec.ver}, nil
}

// ipListenAddr is where a listening IP socket binds: an invalid Addr means
// every local address of the IP version ver (0: either).
type ipListenAddr struct {
	netip.AddrPort
	ver byte
}

// listenIP creates and registers an IP socket of type typ bound to ap.
// Every local address is IPv4 only for version 4, IPv6 only for version
// 6, and for version 0 IPv6 with IPv4 mapped in (dual stack), or IPv4 if
// the system has no IPv6. setup runs before bind, bound after it.
func listenIP(typ int, ap ipListenAddr, setup, bound func(s int) error) (*smol.FD, error) {
	// Pick the family.
	family, v6only := unix.AF_INET, false
	ip := ap.Addr()
	switch {
	case !ip.IsValid() && ap.ver == 4:
		ip = netip.IPv4Unspecified()
	case !ip.IsValid():
		family, v6only, ip = unix.AF_INET6, ap.ver == 6, netip.IPv6Unspecified()
	case ip.Is6():
		family, v6only = unix.AF_INET6, ap.ver == 6
	}
	s, err := sysSocket(family, typ)
	if err == unix.EAFNOSUPPORT && family == unix.AF_INET6 && ap.ver == 0 && !ap.Addr().IsValid() {
		// No IPv6 here: a wildcard listener is IPv4 only.
		family, v6only, ip = unix.AF_INET, false, netip.IPv4Unspecified()
		s, err = sysSocket(family, typ)
	}
	if err != nil {
		return nil, sockErr("socket", err)
	}
	return register(s, func(s int) error {
		// Options, then bind.
		if family == unix.AF_INET6 {
			if err := unix.SetsockoptInt(s, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, boolint(v6only)); err != nil {
				return sockErr("setsockopt", err)
			}
		}
		if setup != nil {
			if err := setup(s); err != nil {
				return err
			}
		}
		sa, err := addrPortToSockaddr(family, netip.AddrPortFrom(ip, ap.Port()))
		if err != nil {
			return err
		}
		if err := unix.Bind(s, sa); err != nil {
			return sockErr("bind", err)
		}
		return bound(s)
	})
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
	// The local address is the listener's unless it listens on every
	// address, when only the kernel knows which one the client reached.
	// Connections share the listener's copy when they can: it is 32 bytes
	// of every idle connection otherwise.
	laddr := &l.addr
	setup := func(s int) error {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return sockErr("setsockopt", err)
		}
		if err := setKeepAlive(s, l.keepAlive); err != nil {
			return sockErr("setsockopt", err)
		}
		if ip := laddr.addrPort().Addr(); ip.IsValid() && !ip.IsUnspecified() {
			return nil
		}
		ap, err := localAddrPort(s)
		laddr = (*tcpEndpoint)(&ap)
		return sockErr("getsockname", err)
	}
	// In a task of a LocalExecutor, with ListenConfig.IOURing or
	// SMOL_BACKEND=uring-completion: the executor's io_uring ring
	// (uring_linux.go).
	cr, err := ringFor(cx, l.ring)
	if err != nil {
		return nil, true, l.opErr("accept", err)
	}
	if cr != nil {
		u, peer, ok, handled, err := l.pollAcceptRing(cx, cr, setup)
		if handled {
			if !ok || err != nil {
				return nil, ok, err
			}
			u.laddr = *laddr
			c := &TCPConn{conn[tcpEndpoint]{laddr: &u.laddr, raddr: tcpEndpoint(peer)}}
			runtime.SetFinalizer(c, finalizeTCPConn)
			return c, true, nil
		}
	}
	fd, peer, ok, err := l.pollAccept(cx, setup)
	if !ok || err != nil {
		return nil, ok, err
	}
	return newTCPConn(fd, laddr, peer), true, nil
}

// Accept returns a future of the next connection; see
// [TCPListener.PollAccept].
func (l *TCPListener) Accept() smol.Future[*TCPConn] {
	return acceptFuture[*TCPConn]{l}
}

// AddrPort returns the address the listener is bound to.
func (l *TCPListener) AddrPort() netip.AddrPort { return l.addr.addrPort() }

// TCPConn is a TCP connection. Its poll methods suit hand-written futures
// (one state machine per connection, no goroutine); [TCPConn.Read],
// [TCPConn.Write] and [TCPConn.WriteAll] wrap them as futures; and
// [TCPConn.NetConn] gives a blocking net.Conn for goroutine code.
//
// One task may read while another writes. Any number of tasks may wait in
// one direction, but the next readiness wakes them all and only one gets
// the data, so one reader task and one writer task per connection is the
// efficient use.
//
// Back-pressure: PollWrite is pending while the kernel's send buffer is
// full, that is, while the peer does not read. A server that stops reading
// from a connection while its writes are pending buffers nothing more than
// what it has already read.
//
// Errors are *net.OpError values (Op "read", "write", "close" or "set")
// whose Err is an *os.SyscallError (errors.Is(err, syscall.ECONNRESET)
// holds for a reset) or net.ErrClosed once the connection is closed. The
// end of the stream is io.EOF, unwrapped, as in Go's net.
type TCPConn struct {
	conn[tcpEndpoint]
}

// newTCPConn wraps a connected socket; laddr may be shared.
func newTCPConn(fd *smol.FD, laddr *tcpEndpoint, raddr netip.AddrPort) *TCPConn {
	c := &TCPConn{conn[tcpEndpoint]{laddr: laddr, raddr: tcpEndpoint(raddr)}}
	c.fd.Store(fd)
	runtime.SetFinalizer(c, finalizeTCPConn) // see finalizeConn
	return c
}

func finalizeTCPConn(c *TCPConn) { finalizeConn(&c.conn) }

// LocalAddrPort returns the local address.
func (c *TCPConn) LocalAddrPort() netip.AddrPort { return c.laddr.addrPort() }

// RemoteAddrPort returns the peer's address.
func (c *TCPConn) RemoteAddrPort() netip.AddrPort { return c.raddr.addrPort() }

// SetNoDelay controls Nagle's algorithm: with noDelay true (the default,
// as in Go's net) small writes are sent at once rather than coalesced.
func (c *TCPConn) SetNoDelay(noDelay bool) error {
	return c.setErr(c.control(func(s int) error { return unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, boolint(noDelay)) }))
}

// SetKeepAlive turns keep-alive probes on or off (on by default).
func (c *TCPConn) SetKeepAlive(keepAlive bool) error {
	return c.setErr(c.control(func(s int) error {
		return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, boolint(keepAlive))
	}))
}

// SetKeepAlivePeriod turns keep-alive on with period d, rounded up to whole
// seconds, as both the idle time before the first probe and the interval
// between probes.
func (c *TCPConn) SetKeepAlivePeriod(d time.Duration) error {
	if d <= 0 {
		d = time.Second
	}
	return c.setErr(c.control(func(s int) error { return setKeepAlive(s, d) }))
}

// SetLinger sets what Close does with unsent data, as in Go's net: sec < 0
// (the default) sends it in the background; sec == 0 discards it and
// resets the connection (the peer sees ECONNRESET); sec > 0 sends it in
// the background and resets after sec seconds.
func (c *TCPConn) SetLinger(sec int) error {
	l := unix.Linger{Onoff: int32(boolint(sec >= 0)), Linger: int32(max(sec, 0))}
	return c.setErr(c.control(func(s int) error {
		return unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &l)
	}))
}

// SetReadBuffer sets the size of the kernel's receive buffer.
func (c *TCPConn) SetReadBuffer(bytes int) error {
	return c.setErr(c.control(func(s int) error { return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes) }))
}

// SetWriteBuffer sets the size of the kernel's send buffer.
func (c *TCPConn) SetWriteBuffer(bytes int) error {
	return c.setErr(c.control(func(s int) error { return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes) }))
}

func (c *TCPConn) setErr(err error) error {
	if err != nil {
		return c.opErr("set", sockErr("setsockopt", err))
	}
	return nil
}
