//go:build linux

package smolnet

import (
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
// in one system call.
func sysAccept(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
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
