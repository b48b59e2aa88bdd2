//go:build netbsd || openbsd

package smolnet

import (
	"net/netip"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysSocket creates a socket that is non-blocking and close-on-exec from
// the start, so no fork can inherit it.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// sysAccept is accept(2) plus close-on-exec under ForkLock and non-blocking
// mode: x/sys/unix has no accept4 wrapper here.
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
	return nfd, sa, nil
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
// and the interval between probes where a socket may choose them (NetBSD).
// OpenBSD has only system-wide settings, so there it does nothing, as in
// Go's net.
func setKeepAlivePeriod(fd, secs int) error {
	if runtime.GOOS == "openbsd" {
		return nil
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, netbsdTCPKeepIdle, secs); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, netbsdTCPKeepIntvl, secs)
}

// NetBSD's TCP_KEEPIDLE and TCP_KEEPINTVL, spelled out because OpenBSD,
// which shares this file, has neither.
const (
	netbsdTCPKeepIdle  = 0x3
	netbsdTCPKeepIntvl = 0x5
)

// maxListenerBacklog reads the kernel's cap on listen backlogs.
func maxListenerBacklog() int {
	if runtime.GOOS == "openbsd" {
		if n, err := unix.SysctlUint32("kern.somaxconn"); err == nil && n > 0 {
			return int(n)
		}
	}
	return unix.SOMAXCONN
}
