//go:build linux

package uring

// SQE preparers. Each fills a zeroed SQE from GetSQE; the caller may then
// add SQE flags (SQEFixedFile, SQEIOLink, SQECQESkipSuccess...). None of
// them makes a system call or allocates.
//
// Memory passed by address (a send buffer, a timespec) is read by the
// kernel when the request is issued, which may be after the submitting
// enter returns (a send to a full socket is retried when it drains). Such
// memory must stay reachable and unchanged until the request's final CQE,
// and must not live on a goroutine stack, which the runtime moves when it
// grows: use heap memory the caller keeps a reference to, or memory from
// mmap. The exceptions are noted: timeout values are copied at submission.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// PrepNop prepares a no-op, which completes with Res 0.
func PrepNop(sqe *SQE, userData uint64) {
	sqe.Opcode = OpNop
	sqe.UserData = userData
}

// PrepAcceptMultishot prepares a multishot accept on the listening socket
// fd (5.19+): one CQE per accepted connection, Res the new fd (created with
// flags, e.g. SOCK_NONBLOCK|SOCK_CLOEXEC), with CQEFMore while the request
// stays armed. A CQE without CQEFMore ends it (an error such as EMFILE, or
// a cancellation): the caller re-arms, after backing off for EMFILE/ENFILE.
// The peer address is not collected; call getpeername when it is wanted.
func PrepAcceptMultishot(sqe *SQE, fd int, flags int, userData uint64) {
	sqe.Opcode = OpAccept
	sqe.Fd = int32(fd)
	sqe.Ioprio = acceptMultishot
	sqe.OpFlags = uint32(flags)
	sqe.UserData = userData
}

// PrepRecvMultishot prepares a multishot receive on the socket fd into
// buffers picked by the kernel from buffer group group (a BufRing), 6.0+.
// Each CQE carries Res bytes in the buffer named by CQE.BufferID, and
// CQEFMore while the request stays armed. Res 0 is end of stream and ends
// the request. If the group runs out of buffers the request ends with
// -ENOBUFS (no CQEFMore): the caller recycles buffers and re-arms.
func PrepRecvMultishot(sqe *SQE, fd int, group uint16, userData uint64) {
	sqe.Opcode = OpRecv
	sqe.Fd = int32(fd)
	sqe.Ioprio = recvMultishot
	sqe.Flags = SQEBufferSelect
	sqe.BufIndex = group
	sqe.UserData = userData
}

// PrepRecv prepares a single receive into p. See the package note on the
// lifetime of p.
func PrepRecv(sqe *SQE, fd int, p []byte, flags int, userData uint64) {
	sqe.Opcode = OpRecv
	sqe.Fd = int32(fd)
	sqe.Addr = bufAddr(p)
	sqe.Len = uint32(len(p))
	sqe.OpFlags = uint32(flags)
	sqe.UserData = userData
}

// PrepSend prepares a send of p on the socket fd; flags are MSG_* (pass
// unix.MSG_NOSIGNAL so that a reset connection reports EPIPE rather than
// raising SIGPIPE, which Go ignores for sockets but other code may not). Res is the number of bytes sent, which
// for a stream socket is len(p) unless an error or a signal intervened.
// See the package note on the lifetime of p.
func PrepSend(sqe *SQE, fd int, p []byte, flags int, userData uint64) {
	sqe.Opcode = OpSend
	sqe.Fd = int32(fd)
	sqe.Addr = bufAddr(p)
	sqe.Len = uint32(len(p))
	sqe.OpFlags = uint32(flags)
	sqe.UserData = userData
}

// PrepSendZC prepares a zero-copy send of p (6.0+): the kernel pins p's
// pages and the NIC, or loopback, reads them directly. It posts two CQEs
// with userData: the result (Res bytes, with CQEFMore) and later a
// notification (CQEFNotif) once the kernel no longer reads p; p must stay
// unchanged until the notification. It is meant for large sends; for
// 64-byte messages it costs more than PrepSend (see register_linux.go).
func PrepSendZC(sqe *SQE, fd int, p []byte, flags int, userData uint64) {
	PrepSend(sqe, fd, p, flags, userData)
	sqe.Opcode = OpSendZC
}

// PrepSendZCFixed is PrepSendZC from a registered buffer: p must lie
// inside the buffer registered at index bufIndex by RegisterBuffers, which
// saves pinning p's pages on every send. Plain sends (PrepSend) do not
// accept registered buffers: Linux 6.18 fails them with EINVAL
// (TestSendRegisteredBuffer).
func PrepSendZCFixed(sqe *SQE, fd int, p []byte, bufIndex uint16, flags int, userData uint64) {
	PrepSendZC(sqe, fd, p, flags, userData)
	sqe.Ioprio |= recvsendFixedBuf
	sqe.BufIndex = bufIndex
}

// PrepPollMultishot prepares a multishot poll for events (POLLIN,
// POLLOUT...) on fd: a CQE with the ready mask in Res each time fd becomes
// ready, with CQEFMore while it stays armed. Use it for fds the ring does
// not read itself (eventfds, timerfds, a listener handled by readiness).
// Readiness is edge-like: a CQE comes per wake-up of fd's wait queue, not
// per poll of a level.
func PrepPollMultishot(sqe *SQE, fd int, events uint32, userData uint64) {
	PrepPoll(sqe, fd, events, userData)
	sqe.Len = pollAddMulti
}

// PrepPoll prepares a one-shot poll for events on fd: one CQE with the
// ready mask in Res.
func PrepPoll(sqe *SQE, fd int, events uint32, userData uint64) {
	sqe.Opcode = OpPollAdd
	sqe.Fd = int32(fd)
	// poll32_events is stored word-swapped on big-endian machines so that
	// the low 16 bits land in the legacy poll_events field; Go's
	// NativeEndian-free way to do that is to compare the layouts.
	if isBigEndian {
		events = events<<16 | events>>16
	}
	sqe.OpFlags = events
	sqe.UserData = userData
}

// PrepPollRemove prepares the removal of the poll request with user data
// target. The poll's own CQE comes with -ECANCELED.
func PrepPollRemove(sqe *SQE, target, userData uint64) {
	sqe.Opcode = OpPollRemove
	sqe.Addr = target
	sqe.UserData = userData
}

// PrepCancel prepares the cancellation of the request (every request,
// with all) whose user data is target. Its own CQE has Res 0 (or the
// count, with all) if something was cancelled, -ENOENT if nothing matched,
// -EALREADY if the request was running and may still complete. The
// cancelled request posts its final CQE, with -ECANCELED or its real
// result, separately and in any order relative to this one.
func PrepCancel(sqe *SQE, target uint64, all bool, userData uint64) {
	sqe.Opcode = OpAsyncCancel
	sqe.Addr = target
	if all {
		sqe.OpFlags = cancelAll
	}
	sqe.UserData = userData
}

// PrepCancelFd prepares the cancellation of every request on fd (5.19+),
// as PrepCancel otherwise.
func PrepCancelFd(sqe *SQE, fd int, userData uint64) {
	sqe.Opcode = OpAsyncCancel
	sqe.Fd = int32(fd)
	sqe.OpFlags = cancelFD | cancelAll
	sqe.UserData = userData
}

// PrepClose prepares close(fd). Requests still in flight on fd keep their
// own reference to the file and are not cancelled by it: cancel them first
// (PrepCancelFd linked with SQEIOLink, or wait for their final CQEs).
func PrepClose(sqe *SQE, fd int, userData uint64) {
	sqe.Opcode = OpClose
	sqe.Fd = int32(fd)
	sqe.UserData = userData
}

// PrepTimeout prepares a timeout of d that completes with -ETIME when it
// expires, or earlier, with Res 0, once count other completions have been
// posted (count 0: only the time counts). The duration is copied when the
// SQE is submitted, so ts may be reused afterwards; it must stay valid
// until then.
func PrepTimeout(sqe *SQE, ts *unix.Timespec, count uint32, userData uint64) {
	sqe.Opcode = OpTimeout
	sqe.Addr = uint64(uintptr(unsafe.Pointer(ts)))
	sqe.Len = 1
	sqe.Off = uint64(count)
	sqe.UserData = userData
}

// PrepTimeoutRemove prepares the removal of the timeout with user data
// target; the timeout's own CQE comes with -ECANCELED.
func PrepTimeoutRemove(sqe *SQE, target, userData uint64) {
	sqe.Opcode = OpTimeoutRemove
	sqe.Addr = target
	sqe.UserData = userData
}

// PrepMsgRing prepares a message to another ring (5.18+): the ring whose
// fd is ringFd gets a CQE with UserData data and Res res, as if one of its
// own requests had completed, and its waiter wakes. This ring gets a CQE
// for the send itself unless the caller sets SQECQESkipSuccess.
func PrepMsgRing(sqe *SQE, ringFd int, res uint32, data uint64, userData uint64) {
	sqe.Opcode = OpMsgRing
	sqe.Fd = int32(ringFd)
	sqe.Addr = msgRingData
	sqe.Len = res
	sqe.Off = data
	sqe.UserData = userData
}

// PrepFilesUpdate prepares the installation of fds in the registered file
// table from index off (the ring-side twin of UpdateFiles, batched with
// other SQEs instead of its own system call). fds must stay valid until
// the CQE, like a send buffer. -1 clears a slot.
func PrepFilesUpdate(sqe *SQE, fds []int32, off uint32, userData uint64) {
	sqe.Opcode = OpFilesUpdate
	sqe.Addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(fds))))
	sqe.Len = uint32(len(fds))
	sqe.Off = uint64(off)
	sqe.UserData = userData
}

// bufAddr is the address of p's first byte, or 0 for an empty p.
func bufAddr(p []byte) uint64 {
	if len(p) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&p[0])))
}

var isBigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()
