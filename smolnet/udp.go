package smolnet

import (
	"net"
	"net/netip"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// UDPConn is a UDP socket. [ListenUDP] makes one bound to a local address
// that exchanges datagrams with anyone (PollReadFrom, PollWriteTo);
// [DialUDP] makes one connected to a peer, which also reads and writes
// with PollRead and PollWrite and receives only from that peer.
type UDPConn struct {
	fd      *smol.FD
	family  int
	network string
	laddr   netip.AddrPort
	raddr   netip.AddrPort // set if connected
}

// ListenUDP opens a UDP socket on network "udp", "udp4" or "udp6" bound to
// address; an empty host binds every local address (IPv6 and IPv4
// together on "udp" where the system allows it). A host name is resolved
// on the calling goroutine, which blocks. Errors are *net.OpError values
// with Op "listen".
func ListenUDP(network, address string) (*UDPConn, error) {
	fail := func(addr net.Addr, err error) (*UDPConn, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: addr, Err: err}
	}
	ver, err := ipNetwork(network, "udp")
	if err != nil {
		return fail(nil, err)
	}
	ap, err := listenAddr(network, ver, address)
	if err != nil {
		return fail(nil, err)
	}
	s, err := listenIP(unix.SOCK_DGRAM, ver, ap, nil)
	if err != nil {
		return fail(udpAddr(ap), err)
	}
	return newUDPConn(s, network, netip.AddrPort{}, func(err error) (*UDPConn, error) { return fail(udpAddr(ap), err) })
}

// DialUDP opens a UDP socket on network "udp", "udp4" or "udp6" connected
// to address: it sends there by default and receives only from there. A
// connect on UDP exchanges no packets, so DialUDP does not wait; a host
// name, though, is resolved on the calling goroutine, which blocks (use an
// IP literal, or [Resolve] first, inside a task). Errors are *net.OpError
// values with Op "dial".
func DialUDP(network, address string) (*UDPConn, error) {
	fail := func(addr net.Addr, err error) (*UDPConn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
	}
	ver, err := ipNetwork(network, "udp")
	if err != nil {
		return fail(nil, err)
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return fail(nil, err)
	}
	t := resolveTarget(network, ver, host, service)
	if t.err != nil {
		return fail(nil, t.err)
	}
	raddr := netip.AddrPortFrom(t.addrs[0], t.port)
	family := unix.AF_INET
	if raddr.Addr().Is6() {
		family = unix.AF_INET6
	}
	s, err := sysSocket(family, unix.SOCK_DGRAM)
	if err != nil {
		return fail(udpAddr(raddr), sockErr("socket", err))
	}
	sa, err := addrPortToSockaddr(family, raddr)
	if err == nil {
		err = sockErr("connect", unix.Connect(s, sa))
	}
	if err != nil {
		unix.Close(s)
		return fail(udpAddr(raddr), err)
	}
	return newUDPConn(s, network, raddr, func(err error) (*UDPConn, error) { return fail(udpAddr(raddr), err) })
}

// newUDPConn registers a bound or connected socket with the reactor.
func newUDPConn(s int, network string, raddr netip.AddrPort, fail func(error) (*UDPConn, error)) (*UDPConn, error) {
	sa, err := unix.Getsockname(s)
	if err != nil {
		unix.Close(s)
		return fail(sockErr("getsockname", err))
	}
	family := unix.AF_INET
	if _, is6 := sa.(*unix.SockaddrInet6); is6 {
		family = unix.AF_INET6
	}
	laddr := sockaddrToAddrPort(sa)
	fd, err := smol.NewFD(s)
	if err != nil {
		unix.Close(s)
		return fail(err)
	}
	return closeWhenUnreachable(&UDPConn{fd: fd, family: family, network: network, laddr: laddr, raddr: raddr}, fd), nil
}

// PollReadFrom receives one datagram into p, returning its length and its
// sender. A datagram longer than p is truncated to len(p). It is pending
// while none is queued.
func (c *UDPConn) PollReadFrom(cx *smol.Context, p []byte) (n int, from netip.AddrPort, ok bool, err error) {
	var sa unix.Sockaddr
	n, ok, err = c.fd.PollReadWith(cx, func(s int) (int, error) {
		n, a, err := unix.Recvfrom(s, p, 0)
		sa = a
		return n, err
	})
	if !ok {
		return 0, netip.AddrPort{}, false, nil
	}
	if err != nil {
		return 0, netip.AddrPort{}, true, c.opErr("read", c.raddr, sockErr("recvfrom", err))
	}
	return n, sockaddrToAddrPort(sa), true, nil
}

// PollWriteTo sends p as one datagram to to. It is pending while the
// socket's send buffer is full. On an IPv6 socket an IPv4 destination is
// sent IPv4-mapped.
func (c *UDPConn) PollWriteTo(cx *smol.Context, p []byte, to netip.AddrPort) (n int, ok bool, err error) {
	sa, err := addrPortToSockaddr(c.family, to)
	if err != nil {
		return 0, true, c.opErr("write", to, err)
	}
	_, ok, err = c.fd.PollWriteWith(cx, func(s int) (int, error) { return 0, sysSendto(s, p, sa) })
	if !ok {
		return 0, false, nil
	}
	if err != nil {
		return 0, true, c.opErr("write", to, sockErr("sendto", err))
	}
	return len(p), true, nil
}

// PollRead receives one datagram from the connected peer into p; see
// PollReadFrom.
func (c *UDPConn) PollRead(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = c.fd.PollRead(cx, p)
	if ok && err != nil {
		err = c.opErr("read", c.raddr, sockErr("read", err))
	}
	return n, ok, err
}

// PollWrite sends p as one datagram to the connected peer. A datagram
// refused by the peer (no one listening) makes a later read or write fail
// with ECONNREFUSED.
func (c *UDPConn) PollWrite(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = c.fd.PollWriteWith(cx, func(s int) (int, error) {
		if len(p) == 0 {
			return unix.Write(s, p)
		}
		return sysSend(s, p)
	})
	if ok && err != nil {
		err = c.opErr("write", c.raddr, sockErr("write", err))
	}
	return n, ok, err
}

// ReadFrom returns a future of one datagram read into p.
func (c *UDPConn) ReadFrom(p []byte) smol.Future[smol.Result[From[netip.AddrPort]]] {
	return readFromFuture[netip.AddrPort]{c, p}
}

// WriteTo returns a future that sends p to to.
func (c *UDPConn) WriteTo(p []byte, to netip.AddrPort) smol.Future[smol.Result[int]] {
	return writeToFuture[netip.AddrPort]{c, p, to}
}

// Read returns a future of one datagram read from the connected peer.
func (c *UDPConn) Read(p []byte) smol.Future[smol.Result[int]] { return readFuture{c, p} }

// Write returns a future that sends p to the connected peer.
func (c *UDPConn) Write(p []byte) smol.Future[smol.Result[int]] { return writeFuture{c, p} }

// LocalAddr returns the bound address, a *net.UDPAddr.
func (c *UDPConn) LocalAddr() net.Addr { return udpAddr(c.laddr) }

// RemoteAddr returns the connected peer's address, a *net.UDPAddr, or nil
// if the socket is not connected.
func (c *UDPConn) RemoteAddr() net.Addr { return udpAddr(c.raddr) }

// LocalAddrPort returns the bound address.
func (c *UDPConn) LocalAddrPort() netip.AddrPort { return c.laddr }

// Close closes the socket; see [TCPConn.Close].
func (c *UDPConn) Close() error {
	if err := c.fd.Close(); err != nil {
		return c.opErr("close", c.raddr, sockErr("close", err))
	}
	return nil
}

func (c *UDPConn) opErr(op string, addr netip.AddrPort, err error) error {
	return &net.OpError{Op: op, Net: c.network, Source: udpAddr(c.laddr), Addr: udpAddr(addr), Err: err}
}
