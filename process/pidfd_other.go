//go:build !linux

package process

import "syscall"

// pidfdAttr returns sys unchanged: there are no pidfds here, and exits are
// learnt from SIGCHLD.
func pidfdAttr(sys *syscall.SysProcAttr) (*syscall.SysProcAttr, *int) {
	fd := -1
	return sys, &fd
}

// pidfdSendSignal is never called without a pidfd.
func pidfdSendSignal(fd int, sig syscall.Signal) error { return syscall.ENOSYS }
