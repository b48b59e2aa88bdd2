//go:build !darwin

package process

import "golang.org/x/sys/unix"

// pipe2 makes a pipe whose ends are closed on exec.
func pipe2(p []int) error { return unix.Pipe2(p, unix.O_CLOEXEC) }
