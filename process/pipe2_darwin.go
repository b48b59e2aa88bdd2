package process

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// pipe2 makes a pipe whose ends are closed on exec. macOS has no pipe2:
// as os.Pipe does there, the pipe is made and marked under ForkLock, so
// that no fork in between passes it on.
func pipe2(p []int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := unix.Pipe(p); err != nil {
		return err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return nil
}
