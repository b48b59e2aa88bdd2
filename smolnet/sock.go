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

// closeOnError closes s if *err is set, for the error paths of functions
// that build a socket in several steps.
func closeOnError(s int, err *error) {
	if *err != nil {
		unix.Close(s)
	}
}
