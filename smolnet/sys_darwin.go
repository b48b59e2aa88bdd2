//go:build darwin

package smolnet

import (
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysSocket creates a socket and marks it close-on-exec and non-blocking.
// Darwin has no SOCK_CLOEXEC, so the two steps run under ForkLock, which
// keeps os/exec from forking in between and leaking the descriptor.
func sysSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := setNoSigpipe(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sysAccept is accept(2) plus close-on-exec under ForkLock, non-blocking
// mode, and SO_NOSIGPIPE (darwin has no accept4).
func sysAccept(fd int) (int, netip.AddrPort, error) {
	nfd, sa, err := sysAcceptSockaddr(fd)
	return nfd, sockaddrToAddrPort(sa), err
}

func sysAcceptSockaddr(fd int) (int, unix.Sockaddr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, nil, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, nil, err
	}
	if err := setNoSigpipe(nfd); err != nil {
		unix.Close(nfd)
		return -1, nil, err
	}
	return nfd, sa, nil
}

// sysSend writes p; SO_NOSIGPIPE, set when the socket was made, turns the
// SIGPIPE of a write to a closed peer into EPIPE.
func sysSend(fd int, p []byte) (int, error) { return unix.Write(fd, p) }

// sysSendto is sysSend to an address, for unconnected datagram sockets.
func sysSendto(fd int, p []byte, to unix.Sockaddr) error { return unix.Sendto(fd, p, 0, to) }

// setNoSigpipe makes writes to a closed peer fail with EPIPE rather than
// raise SIGPIPE: darwin's send has no MSG_NOSIGNAL.
func setNoSigpipe(fd int) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

// setKeepAlivePeriod sets the idle time before the first keep-alive probe
// and the interval between probes.
func setKeepAlivePeriod(fd, secs int) error {
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, secs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs)
}

// maxListenerBacklog reads the kernel's cap on listen backlogs.
func maxListenerBacklog() int {
	n, err := unix.SysctlUint32("kern.ipc.somaxconn")
	if err != nil || n == 0 {
		return unix.SOMAXCONN
	}
	return int(n)
}
