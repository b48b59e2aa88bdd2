//go:build linux

package uring

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrDisabled is wrapped by Available's error when the administrator has
// turned io_uring off (/proc/sys/kernel/io_uring_disabled is 2, or 1 and
// this process is not in io_uring_group).
var ErrDisabled = errors.New("uring: io_uring disabled by the administrator")

// ErrTooOld is wrapped by Available's error when the kernel has io_uring but
// lacks something the reactor relies on (multishot receive and provided
// buffer rings need 6.0).
var ErrTooOld = errors.New("uring: kernel io_uring lacks a needed feature")

// disabledPath is the sysctl Available reads; tests point it elsewhere.
var disabledPath = "/proc/sys/kernel/io_uring_disabled"

var (
	kernelOnce sync.Once
	kernelErr  error
)

// Available reports whether the reactor may use io_uring: nil if it may,
// otherwise why not. It checks, in order:
//
//  1. EnvBackend: an unparsable value is an error; "epoll" returns
//     ErrNotChosen.
//  2. /proc/sys/kernel/io_uring_disabled (6.6+): 2 returns ErrDisabled
//     without trying.
//  3. io_uring_setup on a small ring: ENOSYS (a kernel without io_uring, or
//     one built without it) and EPERM (a seccomp filter, as in Docker's
//     default profile since 2023, or io_uring_disabled=1 and not in
//     io_uring_group) are returned wrapped, with the reason spelled out;
//     errors.Is works with the errno and, for EPERM under the sysctl,
//     with ErrDisabled.
//  4. The features and opcodes the reactor needs (ErrTooOld): no-drop CQ,
//     extended enter arguments, fast poll, CQE skipping, POLL_ADD, ACCEPT, RECV, SEND,
//     ASYNC_CANCEL, CLOSE, TIMEOUT, MSG_RING, and a provided buffer ring
//     registration. Multishot receive (6.0) cannot be probed directly;
//     SEND_ZC, which came in the same release, stands for it.
//
// Steps 2 to 4 run once per process and their result is cached; step 1
// reads the environment on every call.
func Available() error {
	switch c, err := Chosen(); {
	case err != nil:
		return err
	case c == Epoll:
		return ErrNotChosen
	}
	kernelOnce.Do(func() { kernelErr = checkKernel(disabledPath, setup) })
	return kernelErr
}

// setupFunc is io_uring_setup, replaceable in tests to reproduce ENOSYS and
// EPERM.
type setupFunc func(entries uint32, p *params) (int, unix.Errno)

// checkKernel is steps 2 to 4 of Available.
func checkKernel(sysctl string, setupCall setupFunc) error {
	mode := ""
	if b, err := os.ReadFile(sysctl); err == nil {
		mode = strings.TrimSpace(string(b))
	}
	if mode == "2" {
		return fmt.Errorf("%w: %s is 2", ErrDisabled, sysctl)
	}

	// A small ring, through the same setup as New.
	p := params{flags: setupClamp}
	fd, e := setupCall(8, &p)
	switch e {
	case 0:
	case unix.ENOSYS:
		return fmt.Errorf("uring: io_uring_setup: %w (the kernel has no io_uring)", e)
	case unix.EPERM:
		if mode == "1" {
			return fmt.Errorf("%w: io_uring_setup: %w (%s is 1 and this process is not in io_uring_group)", ErrDisabled, e, sysctl)
		}
		return fmt.Errorf("uring: io_uring_setup: %w (a seccomp filter, such as a container runtime's, forbids io_uring)", e)
	default:
		return fmt.Errorf("uring: io_uring_setup: %w", e)
	}
	unix.Close(fd)

	for _, f := range []struct {
		bit  uint32
		name string
	}{{featNoDrop, "NODROP"}, {featExtArg, "EXT_ARG"}, {featFastPoll, "FAST_POLL"}, {featCQESkip, "CQE_SKIP"}} {
		if p.features&f.bit == 0 {
			return fmt.Errorf("%w: no IORING_FEAT_%s", ErrTooOld, f.name)
		}
	}

	// Opcodes and buffer rings, on a real ring.
	r, err := New(Options{Entries: 8})
	if err != nil {
		return fmt.Errorf("uring: %w", err)
	}
	defer r.Close()
	pr, err := r.Probe()
	if err != nil {
		return fmt.Errorf("%w: %w", ErrTooOld, err)
	}
	for _, op := range []struct {
		op   uint8
		name string
	}{
		{OpPollAdd, "POLL_ADD"}, {OpAccept, "ACCEPT"}, {OpRecv, "RECV"}, {OpSend, "SEND"},
		{OpAsyncCancel, "ASYNC_CANCEL"}, {OpClose, "CLOSE"}, {OpTimeout, "TIMEOUT"},
		{OpMsgRing, "MSG_RING"}, {OpSendZC, "SEND_ZC (standing for 6.0's multishot receive)"},
	} {
		if !pr.Supports(op.op) {
			return fmt.Errorf("%w: no IORING_OP_%s", ErrTooOld, op.name)
		}
	}
	if _, err := r.NewBufRing(0, 1, 64); err != nil {
		return fmt.Errorf("%w: provided buffer ring: %w", ErrTooOld, err)
	}
	return nil
}
