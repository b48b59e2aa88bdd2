package process

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pidfdAttr returns a copy of sys that asks ForkExec for a pidfd of the
// child (clone with CLONE_PIDFD, Linux 5.2 on), and where ForkExec stores
// it: -1 if the kernel gave none. A PidFD set by the caller is replaced.
func pidfdAttr(sys *syscall.SysProcAttr) (*syscall.SysProcAttr, *int) {
	fd := -1
	if noPidfd.Load() {
		return sys, &fd
	}
	var s syscall.SysProcAttr
	if sys != nil {
		s = *sys
	}
	s.PidFD = &fd
	return &s, &fd
}

// pidfdSendSignal sends sig through a pidfd: to that very process, even if
// its pid was reused.
func pidfdSendSignal(fd int, sig syscall.Signal) error {
	return unix.PidfdSendSignal(fd, unix.Signal(sig), nil, 0)
}
