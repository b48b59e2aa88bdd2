//go:build freebsd || dragonfly

package smolnet

import (
	"net/netip"
	"runtime"

	"golang.org/x/sys/unix"
)

// sysSocket creates a socket that is non-blocking and close-on-exec from
// the start, so no fork can inherit it.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// sysAccept accepts one connection as a non-blocking, close-on-exec socket
// in one system call.
func sysAccept(fd int) (int, netip.AddrPort, error) {
	nfd, sa, err := sysAcceptSockaddr(fd)
	return nfd, sockaddrToAddrPort(sa), err
}

func sysAcceptSockaddr(fd int) (int, unix.Sockaddr, error) {
	return unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
}

// sysSend writes p without raising SIGPIPE when the peer has gone.
func sysSend(fd int, p []byte) (int, error) {
	return unix.SendmsgN(fd, p, nil, nil, unix.MSG_NOSIGNAL)
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

// maxListenerBacklog reads the kernel's cap on listen backlogs.
func maxListenerBacklog() int {
	name := "kern.ipc.soacceptqueue"
	if runtime.GOOS == "dragonfly" {
		name = "kern.ipc.somaxconn"
	}
	n, err := unix.SysctlUint32(name)
	if err != nil || n == 0 {
		return unix.SOMAXCONN
	}
	return int(n)
}
