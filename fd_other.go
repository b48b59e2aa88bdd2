//go:build !linux

package smol

import "golang.org/x/sys/unix"

// sysRead and sysWrite go through the system's C library on darwin and
// through x/sys/unix elsewhere; only Linux uses raw system calls (fd_linux.go).
func sysRead(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

func sysWrite(fd int, p []byte) (int, error) { return unix.Write(fd, p) }
