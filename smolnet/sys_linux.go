//go:build linux

package smolnet

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysSocket creates a socket that is non-blocking and close-on-exec from
// the start, so no fork can inherit it.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// sysAccept accepts one connection as a non-blocking, close-on-exec socket
// in one system call, and returns the peer's address. It is a bare
// accept4(2) into a socket address on the stack, so accepting leaves no
// garbage behind (x/sys's Accept4 allocates the address twice), and a raw
// one: the listening socket is non-blocking.
func sysAccept(fd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	nfd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, netip.AddrPort{}, errno
	}
	return int(nfd), rawToAddrPort(&rsa), nil
}

// rawToAddrPort decodes an IPv4 or IPv6 socket address as
// sockaddrToAddrPort does; anything else is an unset address.
func rawToAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), netPort(sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return sockaddrToAddrPort(&unix.SockaddrInet6{Port: int(netPort(sa.Port)), ZoneId: sa.Scope_id, Addr: sa.Addr})
	}
	return netip.AddrPort{}
}

// netPort converts a port in network byte order, as the kernel stores it.
func netPort(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// sysSend writes p to a socket without raising SIGPIPE when the peer has
// gone: the write fails with EPIPE instead. p must not be empty. It is a
// bare sendto(2) so that it allocates nothing, and a raw one, which skips
// the Go scheduler's entersyscall and exitsyscall: the socket is
// non-blocking, so the call never blocks.
func sysSend(fd int, p []byte) (int, error) {
	n, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// sysSendto is sysSend to an address, for unconnected datagram sockets.
func sysSendto(fd int, p []byte, to unix.Sockaddr) error {
	return unix.Sendto(fd, p, unix.MSG_NOSIGNAL, to)
}

// setNoSigpipe is needed only where send has no MSG_NOSIGNAL (darwin).
func setNoSigpipe(int) error { return nil }

// setKeepAlivePeriod sets the idle time before the first keep-alive probe
// and the interval between probes.
func setKeepAlivePeriod(fd, secs int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}

// maxListenerBacklog reads the kernel's cap on listen backlogs, as Go's net
// does; listen(2) silently truncates larger values to it anyway.
func maxListenerBacklog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return unix.SOMAXCONN
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return unix.SOMAXCONN
	}
	return n
}
