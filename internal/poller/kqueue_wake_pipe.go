//go:build netbsd || openbsd || dragonfly

package poller

import (
	"os"

	"golang.org/x/sys/unix"
)

// initWake creates a non-blocking, close-on-exec pipe and registers its
// read end for EVFILT_READ, level-triggered, with no udata. (NetBSD has
// EVFILT_USER only since 10.0 and OpenBSD not at all; x/sys defines it for
// neither, nor for DragonFly.)
func (b *backend) initWake() error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return os.NewSyscallError("pipe2", err)
	}
	b.wakeR, b.wakeW = p[0], p[1]
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], b.wakeR, unix.EVFILT_READ, unix.EV_ADD)
	return b.kevent(ch[:])
}

// wakeByte is what wake writes; a package variable, so no buffer escapes.
var wakeByte = [1]byte{1}

// wake writes one byte to the pipe. A full pipe is already readable, so
// EAGAIN counts as success.
func (b *backend) wake() error {
	if _, err := unix.Write(b.wakeW, wakeByte[:]); err != nil && err != unix.EAGAIN {
		return os.NewSyscallError("write", err)
	}
	return nil
}

// isWake reports whether ev is the pipe's read event. The pipe's read end
// is the poller's own fd, so no caller fd can have its number while the
// poller is open.
func (b *backend) isWake(ev *unix.Kevent_t) bool {
	return ev.Filter == unix.EVFILT_READ && int(ev.Ident) == b.wakeR
}

// drainWake reads the pipe until it is empty.
func (b *backend) drainWake() {
	buf := &b.drainBuf
	for {
		n, err := unix.Read(b.wakeR, buf[:])
		if err != nil || n < len(buf) {
			return
		}
	}
}
