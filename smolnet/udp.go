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
	ap, err := resolveListen(network, "udp", address)
	if err != nil {
		return nil, newOpError("listen", network, nil, nil, err)
	}
	c := &UDPConn{network: network}
	fd, err := listenIP(unix.SOCK_DGRAM, ap, nil, c.bound)
	if err != nil {
		return nil, newOpError("listen", network, nil, udpAddr(ap.AddrPort), err)
	}
	c.fd = fd
	return closeWhenUnreachable(c, fd), nil
}

// DialUDP opens a UDP socket on network "udp", "udp4" or "udp6" connected
// to address: it sends there by default and receives only from there. A
// connect on UDP exchanges no packets, so DialUDP does not wait; a host
// name, though, is resolved on the calling goroutine, which blocks (use an
// IP literal, or [Resolve] first, inside a task). Errors are *net.OpError
// values with Op "dial".
func DialUDP(network, address string) (*UDPConn, error) {
	spec, err := parseAddr(network, "udp", address)
	if err != nil {
		return nil, newOpError("dial", network, nil, nil, err)
	}
	t, err := spec.resolve(false)
	if err != nil {
		return nil, newOpError("dial", network, nil, nil, err)
	}
	c := &UDPConn{network: network, raddr: t.first()}
	family := unix.AF_INET
	if c.raddr.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := newSocket(family, unix.SOCK_DGRAM, func(s int) error {
		sa, err := addrPortToSockaddr(family, c.raddr)
		if err != nil {
			return err
		}
		if err := unix.Connect(s, sa); err != nil {
			return sockErr("connect", err)
		}
		return c.bound(s)
	})
	if err != nil {
		return nil, newOpError("dial", network, nil, udpAddr(c.raddr), err)
	}
	c.fd = fd
	return closeWhenUnreachable(c, fd), nil
}

// bound records the local address and family of the bound or connected
// socket s.
func (c *UDPConn) bound(s int) error {
	sa, err := unix.Getsockname(s)
	if err != nil {
		return sockErr("getsockname", err)
	}
	c.family = unix.AF_INET
	if _, is6 := sa.(*unix.SockaddrInet6); is6 {
		c.family = unix.AF_INET6
	}
	c.laddr = sockaddrToAddrPort(sa)
	return nil
}

// PollReadFrom receives one datagram into p, returning its length and its
// sender. A datagram longer than p is truncated to len(p). It is pending
// while none is queued.
func (c *UDPConn) PollReadFrom(cx *smol.Context, p []byte) (n int, from netip.AddrPort, ok bool, err error) {
	n, sa, ok, err := pollRecvFrom(cx, c.fd, p)
	if !ok {
		cx.WaitingOn(c, smol.WaitRead)
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
		cx.WaitingOn(c, smol.WaitWrite)
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
	switch {
	case !ok:
		cx.WaitingOn(c, smol.WaitRead)
	case err != nil:
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
	switch {
	case !ok:
		cx.WaitingOn(c, smol.WaitWrite)
	case err != nil:
		err = c.opErr("write", c.raddr, sockErr("write", err))
	}
	return n, ok, err
}

// ReadFrom returns a future of one datagram read into p.
func (c *UDPConn) ReadFrom(p []byte) smol.Future[From[netip.AddrPort]] {
	return readFromFuture[netip.AddrPort]{c, p}
}

// WriteTo returns a future that sends p to to.
func (c *UDPConn) WriteTo(p []byte, to netip.AddrPort) smol.Future[int] {
	return writeToFuture[netip.AddrPort]{c, p, to}
}

// Read returns a future of one datagram read from the connected peer.
func (c *UDPConn) Read(p []byte) smol.Future[int] { return readFuture{c, p} }

// Write returns a future that sends p to the connected peer.
func (c *UDPConn) Write(p []byte) smol.Future[int] { return writeFuture{c, p} }

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

// String describes the socket for task dumps: the network, the bound
// address and, if it is connected, "<-" and the peer's: "udp 0.0.0.0:53".
func (c *UDPConn) String() string {
	return describe(c.network, addrPortString(c.laddr), addrPortString(c.raddr))
}

func (c *UDPConn) opErr(op string, addr netip.AddrPort, err error) error {
	return newOpError(op, c.network, udpAddr(c.laddr), udpAddr(addr), err)
}
