//go:build linux

// The epoll backend.
//
// # Edge-triggered, registered once: the measured reason
//
// Each fd is added once, EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, and never
// touched again until Delete; the alternative, EPOLLONESHOT, costs one
// epoll_ctl(MOD) to re-arm after every event. BenchmarkPingPong
// (bench_test.go) measured both on this machine (2-core AMD EPYC VM, Linux
// 6.18, Go 1.26; 1-byte echo, client and server ends in one poller on one
// goroutine; CPU time per round trip, median of 12 interleaved runs):
//
//	                       et       et-eagain   oneshot
//	unix socket, 1 conn    7.5 us   9.0 us      8.8 us
//	unix socket, 64 conns  6.6 us   7.8 us      7.9 us
//	TCP loopback, 1 conn   14.5 us  15.3 us     15.3 us
//	TCP loopback, 64 conns 13.7 us  15.2 us     14.8 us
//	syscalls / round trip  6 or 4   8 or 6      8 or 6   (1 or 64 conns)
//
// "et" reads after an event until a short read, "et-eagain" until EAGAIN,
// "oneshot" reads once and re-arms with Modify. Edge-triggered wins by
// 6-20% (more where the kernel's own work per message is small, as on unix
// sockets), and the reason is exact: per message, one-shot pays an
// epoll_ctl (389 ns raw, BenchmarkSyscallKind) that edge-triggered does not
// pay at all, provided the reader treats a short read from a stream socket
// as drained. A reader that always reads until EAGAIN pays a failed read
// instead (464-475 ns), which costs the same as the re-arm: registration
// once is not by itself the win, skipping the EAGAIN read is. Two further
// advantages are not in these numbers: writes never need an epoll_ctl to
// add or drop write interest, and no epoll_ctl means no contention on the
// epoll's internal mutex between a thread in epoll_wait and threads
// re-arming. Those favour edge-triggered the more threads drive the
// reactor. One-shot is kept as AddOneShot/Modify so the measurement can be
// repeated (go test -run '^$' -bench PingPong ./internal/poller/).
//
// # Layout
//
// One epoll fd. Each caller fd is added once with
// EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and its 64-bit key in epoll_event's
// data union, which the kernel hands back untouched; the key is split over
// the union's two 32-bit halves (x/sys calls them Fd and Pad), so it
// round-trips whole on every architecture and endianness. The wake-up fd is
// an eventfd (EFD_NONBLOCK|EFD_CLOEXEC), or a non-blocking pipe where
// eventfd fails (some sandboxes), registered level-triggered for EPOLLIN
// with the data ReservedKey: level-triggered so that a wake-up that was
// somehow not drained is reported again rather than lost.
//
// Wait calls epoll_pwait with a NULL signal mask (which is epoll_wait, and
// exists on every architecture, unlike epoll_wait itself) through
// unix.Syscall6, which tells the Go scheduler the thread is blocked so it
// hands the P to another thread. Timed waits use epoll_pwait2 and a
// timespec when the kernel has it (5.11+), detected on first use;
// otherwise the timeout is rounded up to whole milliseconds. The calls that
// cannot block (epoll_ctl, a timeout-0 wait, the wake-up fd's read and
// write) use raw system calls, which measured 15-20% cheaper (see
// epollPwaitNow).

package poller

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// backend is the epoll state of a Poller, or, when ur is set, the
// io_uring backend's (poller_uring_linux.go), to which every method below
// hands over at its first line.
type backend struct {
	ur *uringBackend
	// forceEpoll makes init skip the SMOL_BACKEND choice; tests of
	// epoll's own details set it.
	forceEpoll bool

	epfd  int
	wakeR int // eventfd, or the read end of the pipe
	wakeW int // the same eventfd, or the write end of the pipe

	// raw is the kernel event buffer; Wait owns it (under Poller.waitMu).
	raw []unix.EpollEvent
	// interrupted counts waits that ended with EINTR, which happens now
	// and then when the Go runtime's preemption signal reaches the thread
	// just as it enters the kernel. Tests use it to tell an interrupted
	// wait from a timeout that fired early. Only Wait touches it.
	interrupted uint64
	// pwait2 records whether epoll_pwait2 works: 0 not yet known, 1 yes,
	// 2 no. Only Wait reads and writes it (under Poller.waitMu).
	pwait2 int8
	// forcePipe makes init skip eventfd; tests set it to cover the
	// fallback.
	forcePipe bool
	// drainBuf receives what drainWake reads. It is a field rather than a
	// stack array so that no read path can make it escape (the race
	// detector's instrumentation of unix.Read does: one allocation per
	// wake-up).
	drainBuf [64]byte

	// file wraps epfd so that a blocking Wait parks its goroutine in the Go
	// runtime's own network poller (an epoll fd is itself pollable: it is
	// readable when it has events) instead of blocking a thread in
	// epoll_pwait; rc is its raw handle. nil if the runtime refused the fd.
	// deadline reports whether file has a read deadline set.
	file     *os.File
	rc       syscall.RawConn
	deadline bool
	// onReadable is the callback rc.Read runs, made once so that a wait
	// does not allocate a closure; it leaves its results in pr and perrno.
	onReadable func(uintptr) bool
	pr         int
	perrno     unix.Errno

	// parked is set while a Wait is parked in the Go runtime's poller, and
	// kicked by a wake that has not been consumed by a wait yet; see wake
	// for both, and for why their orderings suffice.
	parked atomic.Bool
	kicked atomic.Bool
}

// aLongTimeAgo is a read deadline in the past: setting it wakes a goroutine
// parked on the file at once.
var aLongTimeAgo = time.Unix(1, 0)

// eventfdOne is the 8-byte native-endian 1 that a write to an eventfd adds
// to its counter.
var eventfdOne = func() (b [8]byte) {
	binary.NativeEndian.PutUint64(b[:], 1)
	return b
}()

// init creates the epoll fd and the wake-up fd and registers the latter,
// or sets up the io_uring backend if SMOL_BACKEND chooses it.
func (b *backend) init() error {
	if !b.forceEpoll && !b.forcePipe {
		use, err := chooseURing()
		if err != nil {
			return err
		}
		if use {
			b.ur, err = newURingBackend()
			return err
		}
	}
	b.epfd, b.wakeR, b.wakeW = -1, -1, -1
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	b.epfd = epfd

	// Prefer an eventfd: one fd, and a wake-up is one 8-byte write.
	if !b.forcePipe {
		if fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err == nil {
			b.wakeR, b.wakeW = fd, fd
		}
	}
	// Fall back to a non-blocking pipe.
	if b.wakeR < 0 {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
			b.close()
			return os.NewSyscallError("pipe2", err)
		}
		b.wakeR, b.wakeW = p[0], p[1]
	}

	// Register the wake-up fd under the reserved key.
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setKey(&ev, ReservedKey)
	if err := epollCtl(b.epfd, unix.EPOLL_CTL_ADD, b.wakeR, &ev); err != nil {
		b.close()
		return err
	}

	// Hand epfd to the Go runtime's poller for blocking waits.
	if unix.SetNonblock(b.epfd, true) == nil {
		b.file = os.NewFile(uintptr(b.epfd), "smol-epoll")
		if rc, err := b.file.SyscallConn(); err == nil {
			b.rc = rc
			b.onReadable = func(uintptr) bool {
				b.pr, b.perrno = epollPwaitNow(b.epfd, b.raw)
				return b.pr != 0 || b.perrno != 0
			}
		}
	}
	return nil
}

// parkWait blocks until epfd has events or timeout (< 0: none) passes, by
// parking the goroutine in the Go runtime's poller: the thread and its P go
// on to run other goroutines, as they do for a goroutine blocked on a
// net.Conn. Blocking in epoll_pwait instead holds the P until the runtime's
// monitor takes it back, which at GOMAXPROCS=1 stalls every other goroutine
// for up to 10ms, and under load makes the monitor take and return the P on
// every wait. ok is false if the runtime cannot wait on epfd.
func (b *backend) parkWait(timeout time.Duration) (r int, errno unix.Errno, ok bool) {
	// Wake-ups and timers come as readiness of epfd or as the deadline. A
	// kick (see wake) may have left a past deadline behind, which must go:
	// the wait that consumed the kick set b.deadline.
	if timeout > 0 {
		b.file.SetReadDeadline(time.Now().Add(timeout))
		b.deadline = true
	} else if b.deadline {
		b.file.SetReadDeadline(time.Time{})
		b.deadline = false
	}
	// The runtime registered epfd edge-triggered: after this callback saw
	// no events, the next event to reach epfd is a new edge, and one that
	// arrived in between leaves the runtime's ready flag set, so the
	// callback runs again at once. Either way no event is slept through.
	// A kick whose wake saw parked false wrote the eventfd; one that saw
	// it true and came before the look at kicked is seen there; one that
	// came after sets a past deadline that ends the park (see wake).
	b.parked.Store(true)
	if b.kicked.Load() {
		b.parked.Store(false)
		return 0, 0, true
	}
	err := b.rc.Read(b.onReadable)
	b.parked.Store(false)
	switch {
	case err == nil:
		return b.pr, b.perrno, true
	case errors.Is(err, os.ErrDeadlineExceeded):
		// A timeout or a kick; either way the deadline must be cleared
		// before the next park, even if the kick that set it was consumed
		// by an earlier wait (it landed late).
		b.deadline = true
		return 0, 0, true
	}
	b.rc = nil // not pollable after all: block in the kernel from now on
	return 0, 0, false
}

// setKey stores key in the epoll_event data union: low half in Fd, high
// half in Pad. getKey undoes it. The kernel copies the union verbatim, so
// the split needs no knowledge of the union's byte order.
func setKey(ev *unix.EpollEvent, key uint64) {
	ev.Fd = int32(uint32(key))
	ev.Pad = int32(uint32(key >> 32))
}

func getKey(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// add registers fd with EPOLL_CTL_ADD.
func (b *backend) add(fd int, key uint64, m mode, read, write bool) error {
	if b.ur != nil {
		return b.ur.add(fd, key, m, read, write)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET}
	if m == modeOneShot {
		ev.Events = oneShotEvents(read, write)
	}
	setKey(&ev, key)
	return epollCtl(b.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

// oneShotEvents is the level-triggered one-shot interest for the given
// directions.
func oneShotEvents(read, write bool) uint32 {
	e := uint32(unix.EPOLLONESHOT)
	if read {
		e |= unix.EPOLLIN | unix.EPOLLRDHUP
	}
	if write {
		e |= unix.EPOLLOUT
	}
	return e
}

// modify re-arms fd with EPOLL_CTL_MOD.
func (b *backend) modify(fd int, key uint64, read, write bool) error {
	if b.ur != nil {
		return b.ur.modify(fd, key, read, write)
	}
	ev := unix.EpollEvent{Events: oneShotEvents(read, write)}
	setKey(&ev, key)
	return epollCtl(b.epfd, unix.EPOLL_CTL_MOD, fd, &ev)
}

// del deregisters fd with EPOLL_CTL_DEL. (Kernels before 2.6.9 wanted a
// non-NULL event pointer; one is passed.)
func (b *backend) del(fd int) error {
	if b.ur != nil {
		return b.ur.del(fd)
	}
	var ev unix.EpollEvent
	return epollCtl(b.epfd, unix.EPOLL_CTL_DEL, fd, &ev)
}

// wait runs one epoll_pwait or epoll_pwait2 and converts the result.
func (b *backend) wait(events []Event, timeout time.Duration) (n int, woke bool, err error) {
	if b.ur != nil {
		return b.ur.wait(events, timeout)
	}
	// Size the kernel buffer like the caller's slice. It only grows, so a
	// caller that always passes the same slice allocates once.
	if len(b.raw) < len(events) {
		b.raw = make([]unix.EpollEvent, len(events))
	}
	raw := b.raw[:len(events)]
	b.raw = raw // onReadable fills b.raw: make it the caller's length

	// A blocking wait parks the goroutine in the Go runtime's poller (whose
	// first step is a look without blocking), or failing that blocks in the
	// kernel.
	var r int
	var errno unix.Errno
	ok := false
	if timeout != 0 && b.rc != nil {
		r, errno, ok = b.parkWait(timeout)
	}
	switch {
	case ok:
	case timeout == 0:
		r, errno = epollPwaitNow(b.epfd, raw)
	case timeout < 0:
		r, errno = epollPwait(b.epfd, raw, -1)
	default:
		r, errno = b.timedWait(raw, timeout)
	}
	if errno == unix.EINTR {
		b.interrupted++
		return 0, false, nil
	}
	if errno != 0 {
		return 0, false, os.NewSyscallError("epoll_pwait", errno)
	}

	// A kick is a wake-up too: consume it, as the eventfd's below, before
	// the Poller clears its notified flag (see Poller.Wait), and clear its
	// deadline before the next park.
	if b.kicked.Load() && b.kicked.Swap(false) {
		woke = true
		b.deadline = true
	}
	// Convert, consuming the wake-up fd's event if it is there.
	for i := range raw[:r] {
		ev := &raw[i]
		key := getKey(ev)
		if key == ReservedKey {
			b.drainWake()
			woke = true
			continue
		}
		e := ev.Events
		events[n] = Event{
			Key:      key,
			Readable: e&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0,
			Writable: e&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0,
			Hangup:   e&(unix.EPOLLRDHUP|unix.EPOLLHUP) != 0,
			Err:      e&unix.EPOLLERR != 0,
		}
		n++
	}
	return n, woke, nil
}

// timedWait waits at most timeout (> 0), never less.
func (b *backend) timedWait(raw []unix.EpollEvent, timeout time.Duration) (int, unix.Errno) {
	// Nanosecond precision through epoll_pwait2, unless it is known to be
	// missing. ENOSYS means an old kernel; EPERM is what seccomp filters
	// that predate the call (older container runtimes) return instead.
	if b.pwait2 != 2 {
		ts := unix.NsecToTimespec(int64(timeout))
		r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(b.epfd),
			uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		if e != unix.ENOSYS && e != unix.EPERM {
			b.pwait2 = 1
			return int(r), e
		}
		b.pwait2 = 2
	}
	// Milliseconds, rounded up so that the wait is never shorter than
	// asked, and clamped to what an int32 holds (about 24.8 days).
	ms := (timeout + time.Millisecond - 1) / time.Millisecond
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}
	return epollPwait(b.epfd, raw, int(ms))
}

// epollPwait is epoll_pwait with a NULL signal mask, that is epoll_wait,
// through the scheduler-aware Syscall6: it may block, so the P must be
// handed off.
func epollPwait(epfd int, raw []unix.EpollEvent, msec int) (int, unix.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)), uintptr(msec), 0, 0)
	return int(r), e
}

// The calls below never block, so they use RawSyscall6, which skips the
// scheduler's entersyscall/exitsyscall bookkeeping. BenchmarkSyscallKind
// measured the saving here (2-core AMD EPYC VM, Linux 6.18, medians of
// 12): epoll_ctl(MOD) 389 ns raw against 454 ns, a timeout-0 epoll_pwait
// 238 ns against 293 ns, a read that fails with EAGAIN 464 ns against 579
// ns. Blocking waits keep Syscall6.

// epollPwaitNow is a timeout-0 epoll_pwait.
func epollPwaitNow(epfd int, raw []unix.EpollEvent) (int, unix.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)), 0, 0, 0)
	return int(r), e
}

// epollCtl is epoll_ctl; errors come back as *os.SyscallError.
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op),
		uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return os.NewSyscallError("epoll_ctl", e)
	}
	return nil
}

// rawRead and rawWrite are read(2) and write(2) on the wake-up fd, which is
// non-blocking. p must not be empty.
func rawRead(fd int, p []byte) (int, unix.Errno) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(r), e
}

func rawWrite(fd int, p []byte) unix.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return e
}

// drainWake empties the wake-up fd: one read resets an eventfd's counter;
// a pipe is read until it is empty.
func (b *backend) drainWake() {
	buf := &b.drainBuf
	if b.wakeR == b.wakeW {
		rawRead(b.wakeR, buf[:8])
		return
	}
	for {
		n, e := rawRead(b.wakeR, buf[:])
		if e != 0 || n < len(buf) {
			return
		}
	}
}

// wake makes the next or current Wait return: by a kick if a Wait is
// parked in the Go runtime's poller, else by making the wake-up fd
// readable (a full pipe, or a saturated eventfd counter, is already
// readable, so EAGAIN counts as success).
//
// The kick sets a read deadline in the past on epfd's file, which makes
// the runtime ready the parked goroutine at once, as a channel send would.
// The eventfd write alone only makes epfd readable, and the runtime
// notices that at its next network poll, which under full CPU load comes
// every 10 ms or so (BenchmarkWakeParked measured a p99 of tens of
// milliseconds without the kick). A kick costs no system call, so when it
// suffices the write is skipped.
//
// The handshake, with sequentially consistent atomics:
//
//	wake:     kicked = true;  if parked { past deadline } else { write eventfd }
//	parkWait: parked = true;  if kicked { return }  park (ends at a deadline)
//	wait:     after the wait, swap kicked to false: if it was true, the
//	          wait reports the wake-up consumed, like a drained eventfd
//
// If wake sees parked false, the eventfd is written and the look at epfd
// that follows parked's store finds it, as before the kick existed. If it
// sees true, parkWait stored parked before that load; then either
// parkWait's load of kicked comes after wake's store and returns at once,
// or it came before, and the past deadline ends the park (or, if the park
// had already ended, the wait consumes kicked). A kick's deadline that
// lands after its wait ended is stale: the next park returns early once,
// which the contract allows, and every wait that returns on a deadline,
// or consumes a kick, has the deadline cleared before the next park
// (TestKickLeavesNoPastDeadline). kicked is set before the eventfd write
// too, so a wait may report the wake-up before the write lands; the write
// then makes a later wait return early once, also allowed.
func (b *backend) wake() error {
	if b.ur != nil {
		return b.ur.wake()
	}
	// (parked is only ever set while b.rc is usable.)
	b.kicked.Store(true)
	if b.parked.Load() {
		b.file.SetReadDeadline(aLongTimeAgo)
		return nil
	}
	var e unix.Errno
	if b.wakeR == b.wakeW {
		e = rawWrite(b.wakeW, eventfdOne[:])
	} else {
		e = rawWrite(b.wakeW, eventfdOne[:1])
	}
	if e != 0 && e != unix.EAGAIN {
		return os.NewSyscallError("write", e)
	}
	return nil
}

// close closes the wake-up fd(s) and the epoll fd, returning the first
// error.
func (b *backend) close() error {
	if b.ur != nil {
		return b.ur.close()
	}
	var first error
	closeFd := func(fd *int) {
		if *fd >= 0 {
			if err := unix.Close(*fd); err != nil && first == nil {
				first = os.NewSyscallError("close", err)
			}
			*fd = -1
		}
	}
	if b.wakeW != b.wakeR {
		closeFd(&b.wakeW)
	}
	b.wakeW = -1
	closeFd(&b.wakeR)
	if b.file != nil {
		// The File owns epfd now.
		if err := b.file.Close(); err != nil && first == nil {
			first = err
		}
		b.file, b.rc, b.epfd = nil, nil, -1
	}
	closeFd(&b.epfd)
	return first
}

// name is Backend's answer.
func (b *backend) name() string {
	if b.ur != nil {
		return "io_uring"
	}
	return "epoll"
}
