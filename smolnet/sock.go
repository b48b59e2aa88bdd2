package smolnet

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// control runs op on fd's descriptor while the FD keeps it open (see
// smol.FD.Control); it returns os.ErrClosed if fd is already closed.
func control(fd *smol.FD, op func(s int) error) error { return fd.Control(op) }

// sockErr turns what a syscall or the FD reported into the Err of a
// *net.OpError: net.ErrClosed for a closed socket, an *os.SyscallError
// naming call for an errno, anything else as it is.
func sockErr(call string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrClosed) {
		return net.ErrClosed
	}
	if errno, ok := err.(unix.Errno); ok {
		return os.NewSyscallError(call, errno)
	}
	return err
}

// newOpError is the error of every failed operation of the package, built
// in this one place as Go's net builds it: the operation, the network, the
// local address (Source, nil for listeners and dials) and the address the
// operation was aimed at, and the cause.
func newOpError(op, network string, source, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: network, Source: source, Addr: addr, Err: err}
}

// register hands the descriptor s to the reactor, first running setup on
// it (options, bind, listen, getsockname: whatever must be done before
// anyone else can see the socket). It takes ownership of s: on failure s
// is closed, so that a half-built socket is closed in this one place,
// whatever step failed. setup's errors are returned as they are.
func register(s int, setup func(s int) error) (fd *smol.FD, err error) {
	defer func() {
		if err != nil {
			unix.Close(s)
		}
	}()
	if setup != nil {
		if err := setup(s); err != nil {
			return nil, err
		}
	}
	return smol.NewFD(s)
}

// newSocket creates a non-blocking, close-on-exec socket and registers it;
// see register.
func newSocket(family, typ int, setup func(s int) error) (*smol.FD, error) {
	s, err := sysSocket(family, typ)
	if err != nil {
		return nil, sockErr("socket", err)
	}
	return register(s, setup)
}

// connect creates a stream socket of family, registers it, and starts
// connecting it to sa. Registering first means the edge that ends the
// connect cannot be missed. connected reports a connect that completed at
// once; otherwise pollConnect waits for the outcome. On error no socket is
// left open.
func connect(family int, sa unix.Sockaddr) (fd *smol.FD, connected bool, err error) {
	fd, err = newSocket(family, unix.SOCK_STREAM, nil)
	if err != nil {
		return nil, false, err
	}
	fd.SetStream() // a byte stream: see smol.FD.SetStream
	switch err := control(fd, func(s int) error { return unix.Connect(s, sa) }); err {
	case nil:
		return fd, true, nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return fd, false, nil
	default:
		fd.Close()
		return nil, false, sockErr("connect", err)
	}
}

// pollConnect waits for a connect in progress on fd to finish. It is
// ready with nil once connected, or with the connect's error (from
// SO_ERROR).
func pollConnect(cx *smol.Context, fd *smol.FD) (ok bool, err error) {
	ok, err = fd.PollWritable(cx)
	if !ok {
		return false, nil
	}
	if err == nil {
		err = control(fd, func(s int) error {
			soerr, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_ERROR)
			if err == nil && soerr != 0 {
				err = unix.Errno(soerr)
			}
			return err
		})
	}
	return true, sockErr("connect", err)
}

// pollRecvFrom receives one datagram into p, for the datagram sockets:
// its length and its sender. Errors are raw.
func pollRecvFrom(cx *smol.Context, fd *smol.FD, p []byte) (n int, from unix.Sockaddr, ok bool, err error) {
	n, ok, err = fd.PollReadWith(cx, func(s int) (int, error) {
		n, sa, err := unix.Recvfrom(s, p, 0)
		from = sa
		return n, err
	})
	return n, from, ok, err
}

// shutdownWrite shuts down the sending side of the socket s.
func shutdownWrite(s int) error { return unix.Shutdown(s, unix.SHUT_WR) }

// setsockoptInt sets an integer socket option on an open FD.
func setsockoptInt(fd *smol.FD, level, opt, v int) error {
	return control(fd, func(s int) error { return unix.SetsockoptInt(s, level, opt, v) })
}

// boolint is 1 for true, 0 for false: the C boolean of socket options.
func boolint(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setKeepAlive turns TCP keep-alive probes on (d > 0: first probe after d
// idle, then every d) or off (d < 0). d == 0 means 15 s, Go's default.
func setKeepAlive(s int, d time.Duration) error {
	if d < 0 {
		return unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)
	}
	if d == 0 {
		d = defaultKeepAlive
	}
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	// Round up to whole seconds, as the options are in seconds.
	return setKeepAlivePeriod(s, int((d+time.Second-1)/time.Second))
}

// defaultKeepAlive is the keep-alive period Go's net uses when none is set.
const defaultKeepAlive = 15 * time.Second

// defaultBacklog is the system's maximum listen backlog, read once.
var defaultBacklog = sync.OnceValue(func() int {
	// listen(2) takes an int, but kernels before Linux 4.1 stored the
	// backlog in 16 bits, so larger values could wrap to small ones.
	return min(maxListenerBacklog(), 1<<16-1)
})

// sockaddrToAddrPort converts an IP socket address; it returns the zero
// AddrPort for any other kind. An IPv4-mapped IPv6 address becomes IPv4, as
// it prints in Go's net.
func sockaddrToAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(sa.Addr)
		if ip.Is4In6() {
			ip = ip.Unmap()
		} else if sa.ZoneId != 0 {
			// Zones are kept as interface indexes: naming the interface
			// costs a netlink round trip per connection.
			ip = ip.WithZone(strconv.Itoa(int(sa.ZoneId)))
		}
		return netip.AddrPortFrom(ip, uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// addrPortToSockaddr builds the socket address of ap for a socket of the
// given family. An IPv4 address on an IPv6 socket becomes IPv4-mapped.
func addrPortToSockaddr(family int, ap netip.AddrPort) (unix.Sockaddr, error) {
	ip := ap.Addr()
	switch family {
	case unix.AF_INET:
		ip = ip.Unmap()
		if !ip.Is4() {
			return nil, &net.AddrError{Err: "non-IPv4 address", Addr: ip.String()}
		}
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ip.As4()}, nil
	case unix.AF_INET6:
		sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ip.As16()}
		if z := ip.Zone(); z != "" {
			if n, err := strconv.Atoi(z); err == nil {
				sa.ZoneId = uint32(n)
			} else if ifi, err := net.InterfaceByName(z); err == nil {
				sa.ZoneId = uint32(ifi.Index)
			} else {
				return nil, &net.AddrError{Err: "unknown zone", Addr: ip.String()}
			}
		}
		return sa, nil
	}
	return nil, unix.EAFNOSUPPORT
}

// localAddrPort returns the address a socket is bound to.
func localAddrPort(s int) (netip.AddrPort, error) {
	sa, err := unix.Getsockname(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return sockaddrToAddrPort(sa), nil
}

// tcpAddr converts ap to a net.Addr, nil (an untyped nil) if ap is unset.
func tcpAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.TCPAddrFromAddrPort(ap)
}

// udpAddr converts ap to a net.Addr, nil (an untyped nil) if ap is unset.
func udpAddr(ap netip.AddrPort) net.Addr {
	if !ap.IsValid() {
		return nil
	}
	return net.UDPAddrFromAddrPort(ap)
}

// closeWhenUnreachable arranges for fd to be closed once owner, the socket
// type that wraps it, is garbage collected, and returns owner. Go's net does
// the same with a finalizer. It matters here because closing an executor
// cancels its tasks and drops their futures: the sockets those futures held
// would otherwise stay open for the life of the process. A socket closed
// explicitly is unaffected: its second Close does nothing.
//
// While a task waits on fd, the reactor holds the task's waker, which
// reaches owner through the task's future: owner cannot be collected while
// it is awaited.
func closeWhenUnreachable[T any](owner *T, fd *smol.FD) *T {
	runtime.AddCleanup(owner, closeFD, fd)
	return owner
}

func closeFD(fd *smol.FD) { fd.Close() }

// finalizeConn is what closeWhenUnreachable does, for the connections, of
// which an idle server holds one per client: they use a finalizer with a
// static function instead of a cleanup. A cleanup costs a 56-byte record
// outside the heap and an 8-byte box for its argument inside it; a
// finalizer costs the record alone, and, as in Go's net, the connection
// lives one more collection cycle after it becomes unreachable, which
// only delays the close.
func finalizeConn[A endpoint](c *conn[A]) {
	if u := c.ring(); u != nil && u.close() != errMoved {
		return
	}
	c.fd.Load().Close()
}
