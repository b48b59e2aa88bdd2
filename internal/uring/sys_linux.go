//go:build linux

package uring

// The kernel ABI: structures and constants of include/uapi/linux/io_uring.h
// that this package uses, the three system calls, and mmap helpers. Field
// offsets are checked by TestABILayout. Names follow the C header with the
// IORING_ prefix dropped and in Go case, so that a reader can grep the
// kernel for them.

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Opcodes (enum io_uring_op), for SQE.Opcode and Probe.Supports. Only
// those the package prepares or probes are named.
const (
	OpNop           = 0  // IORING_OP_NOP: complete at once with Res 0
	OpPollAdd       = 6  // IORING_OP_POLL_ADD: PrepPoll, PrepPollMultishot
	OpPollRemove    = 7  // IORING_OP_POLL_REMOVE: PrepPollRemove
	OpTimeout       = 11 // IORING_OP_TIMEOUT: PrepTimeout
	OpTimeoutRemove = 12 // IORING_OP_TIMEOUT_REMOVE: PrepTimeoutRemove
	OpAccept        = 13 // IORING_OP_ACCEPT: PrepAcceptMultishot
	OpAsyncCancel   = 14 // IORING_OP_ASYNC_CANCEL: PrepCancel, PrepCancelFd
	OpLinkTimeout   = 15 // IORING_OP_LINK_TIMEOUT: a timeout for the SQE linked before it
	OpClose         = 19 // IORING_OP_CLOSE: PrepClose
	OpFilesUpdate   = 20 // IORING_OP_FILES_UPDATE: PrepFilesUpdate
	OpSend          = 26 // IORING_OP_SEND: PrepSend
	OpRecv          = 27 // IORING_OP_RECV: PrepRecv, PrepRecvMultishot
	OpShutdown      = 34 // IORING_OP_SHUTDOWN: shutdown(2)
	OpMsgRing       = 40 // IORING_OP_MSG_RING: PrepMsgRing
	OpSendZC        = 47 // IORING_OP_SEND_ZC: PrepSendZC, PrepSendZCFixed
	opLast          = 64 // probe buffer size; larger than any opcode today
)

// SQE flags (sqe->flags, IOSQE_*), for SQE.Flags.
const (
	SQEFixedFile      = 1 << 0 // IOSQE_FIXED_FILE: SQE.Fd is a registered file slot
	SQEIODrain        = 1 << 1 // IOSQE_IO_DRAIN: start after every earlier SQE completed
	SQEIOLink         = 1 << 2 // IOSQE_IO_LINK: start the next SQE after this one succeeds
	SQEIOHardlink     = 1 << 3 // IOSQE_IO_HARDLINK: start the next SQE after this one, whatever its result
	SQEAsync          = 1 << 4 // IOSQE_ASYNC: go straight to an io-wq worker thread
	SQEBufferSelect   = 1 << 5 // IOSQE_BUFFER_SELECT: take a buffer from group SQE.BufIndex
	SQECQESkipSuccess = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: post a CQE only on failure
)

const (
	rsrcRegisterSparse = 1 << 0 // IORING_RSRC_REGISTER_SPARSE
)

// CQE flags (cqe->flags, IORING_CQE_F_*).
const (
	// CQEFBuffer: the upper 16 bits of Flags are the provided buffer's ID.
	CQEFBuffer = 1 << 0
	// CQEFMore: the multishot request that posted this CQE stays armed
	// and will post more. Its absence ends the request.
	CQEFMore = 1 << 1
	// CQEFSockNonempty: after this recv the socket still had data queued.
	CQEFSockNonempty = 1 << 2
	// CQEFNotif: a zero-copy send's notification that the buffer is free.
	CQEFNotif      = 1 << 3
	cqeBufferShift = 16
)

// io_uring_setup flags (IORING_SETUP_*).
const (
	setupCQSize       = 1 << 3
	setupClamp        = 1 << 4
	setupSubmitAll    = 1 << 7
	setupCoopTaskrun  = 1 << 8
	setupTaskrunFlag  = 1 << 9
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13
	setupNoSQArray    = 1 << 16
)

// Features reported by io_uring_setup (IORING_FEAT_*).
const (
	featSingleMmap = 1 << 0
	featNoDrop     = 1 << 1
	featFastPoll   = 1 << 5
	featExtArg     = 1 << 8
	featCQESkip    = 1 << 11
)

// SQ ring flags (IORING_SQ_*), written by the kernel.
const (
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2
)

// CQ ring flags (IORING_CQ_*), written by us.
const cqEventfdDisabled = 1 << 0

// io_uring_enter flags (IORING_ENTER_*).
const (
	enterGetEvents = 1 << 0
	enterExtArg    = 1 << 3
)

// Command flags of the individual operations.
const (
	pollAddMulti       = 1 << 0 // sqe->len of POLL_ADD
	cancelAll          = 1 << 0 // sqe->cancel_flags
	cancelFD           = 1 << 1
	cancelAny          = 1 << 2
	recvMultishot      = 1 << 1
	recvsendFixedBuf   = 1 << 2
	acceptMultishot    = 1 << 0 // sqe->ioprio of ACCEPT
	msgRingData        = 0      // sqe->addr of MSG_RING
	ioURingOpSupported = 1 << 0 // io_uring_probe_op.flags
)

// io_uring_register opcodes (IORING_REGISTER_*).
const (
	registerBuffers     = 0
	unregisterBuffers   = 1
	unregisterFiles     = 3
	registerEventfd     = 4
	registerProbe       = 8
	registerFiles2      = 13
	registerFilesUpdate = 6
	registerPbufRing    = 22
	unregisterPbufRing  = 23
	registerSyncCancel  = 24
)

// mmap offsets of the rings (IORING_OFF_*).
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params (120 bytes).
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// SQE is a submission queue entry, struct io_uring_sqe (64 bytes). The
// preparers (Prep*) fill it; a caller that needs an operation they do not
// cover may set the fields directly, as the C header names them.
type SQE struct {
	Opcode      uint8  // IORING_OP_*
	Flags       uint8  // SQE* flags (IOSQE_*)
	Ioprio      uint16 // I/O priority, or per-opcode flags (multishot accept and receive)
	Fd          int32  // the file, or a registered slot with SQEFixedFile
	Off         uint64 // also addr2
	Addr        uint64 // also splice_off_in
	Len         uint32 // buffer length, or a count
	OpFlags     uint32 // rw_flags, msg_flags, timeout_flags, accept_flags, cancel_flags, poll32_events...
	UserData    uint64 // returned untouched in the CQE
	BufIndex    uint16 // also buf_group
	Personality uint16 // a registered credential set, 0 for the caller's
	FileIndex   uint32 // also splice_fd_in, addr_len
	Addr3       uint64 // a third address for the few opcodes that take one
	pad2        uint64
}

// CQE is a completion queue entry, struct io_uring_cqe (16 bytes).
type CQE struct {
	// UserData is the SQE's UserData, untouched by the kernel.
	UserData uint64
	// Res is the operation's result: a byte count, an fd, or a negated
	// errno.
	Res int32
	// Flags holds CQEF* bits and, with CQEFBuffer, the buffer ID.
	Flags uint32
}

// More reports whether the multishot request that posted c stays armed.
func (c *CQE) More() bool { return c.Flags&CQEFMore != 0 }

// BufferID returns the provided buffer that the kernel filled, if any.
func (c *CQE) BufferID() (id uint16, ok bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

// Err returns c's result as an error: nil for Res >= 0, otherwise the
// unix.Errno.
func (c *CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return unix.Errno(-c.Res)
}

// getEventsArg is struct io_uring_getevents_arg, for IORING_ENTER_EXT_ARG.
type getEventsArg struct {
	sigmask     uint64
	sigmaskSz   uint32
	minWaitUsec uint32
	ts          uint64
}

// probeOp and probeHdr are struct io_uring_probe_op and io_uring_probe.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

type probe struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [opLast]probeOp
}

// rsrcRegister is struct io_uring_rsrc_register.
type rsrcRegister struct {
	nr    uint32
	flags uint32
	resv2 uint64
	data  uint64
	tags  uint64
}

// rsrcUpdate is struct io_uring_rsrc_update (io_uring_files_update).
type rsrcUpdate struct {
	offset uint32
	resv   uint32
	data   uint64
}

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// ringBuf is struct io_uring_buf, one entry of a provided buffer ring. The
// tail of the ring overlays resv of entry 0.
type ringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16
}

// syncCancelReg is struct io_uring_sync_cancel_reg.
type syncCancelReg struct {
	addr    uint64
	fd      int32
	flags   uint32
	timeout unix.Timespec
	opcode  uint8
	pad     [7]uint8
	pad2    [3]uint64
}

// iovec for IORING_REGISTER_BUFFERS.
type iovec = unix.Iovec

// setup is io_uring_setup(2). It never blocks.
func setup(entries uint32, p *params) (int, unix.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(r), e
}

// enterRaw is io_uring_enter(2) without the scheduler's bookkeeping: for
// calls that cannot sleep (no GETEVENTS, or GETEVENTS with nothing to
// wait for).
func enterRaw(fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSz uintptr) (int, unix.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit),
		uintptr(minComplete), uintptr(flags), uintptr(arg), argSz)
	return int(r), e
}

// enterBlocking is io_uring_enter(2) through the scheduler-aware Syscall6,
// for calls that may sleep waiting for completions: the P is handed off.
func enterBlocking(fd int, toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSz uintptr) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit),
		uintptr(minComplete), uintptr(flags), uintptr(arg), argSz)
	return int(r), e
}

// register is io_uring_register(2). Registration calls do not sleep for
// long (sync cancel, which may, has its own timeout), so Syscall6 is used
// for every one of them: they are rare, and the P hand-off is cheap
// insurance.
func register(fd int, op uint32, arg unsafe.Pointer, nr uint32) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(op), uintptr(arg), uintptr(nr), 0, 0)
	if e != 0 {
		return int(r), os.NewSyscallError("io_uring_register", e)
	}
	return int(r), nil
}

// mmapRing maps length bytes of the ring fd at the magic offset off,
// shared and populated (the kernel's pages are already allocated).
func mmapRing(fd int, off int64, length int) ([]byte, error) {
	b, err := unix.Mmap(fd, off, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return b, nil
}

// mmapAnon maps length bytes of private anonymous memory, page aligned,
// outside the Go heap: memory the kernel may write into after the Go code
// that asked for the write has lost interest (provided buffers, buffer
// rings) must never be memory the garbage collector can free and reuse.
func mmapAnon(length int) ([]byte, error) {
	b, err := unix.Mmap(-1, 0, length, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, os.NewSyscallError("mmap", err)
	}
	return b, nil
}
