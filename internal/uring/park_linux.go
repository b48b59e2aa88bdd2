//go:build linux

package uring

// Waiting without holding a P.
//
// A goroutine blocked in io_uring_enter holds its OS thread, and holds its
// P until the runtime's monitor (sysmon) notices the system call and hands
// the P to another thread: 20 µs at best, up to 10 ms when the monitor has
// backed off. At GOMAXPROCS=1 every other goroutine waits that long. The
// epoll poller (internal/poller, parkWait) avoids this by parking in the Go
// runtime's own poller on the epoll fd; the ring fd supports the same
// trick: io_uring_poll reports EPOLLIN while completions are ready, and
// posting a completion wakes the ring's poll wait queue. So with
// Options.Park the ring fd is handed to the runtime (os.NewFile, which
// registers it edge-triggered with the runtime's epoll), and a wait
// submits with a non-blocking enter, then parks the goroutine in
// RawConn.Read until the fd is readable, and returns; the owner then
// reaps without a system call. The price is the runtime's own epoll_wait
// on the way. Measured (bench_linux_test.go): on a one-goroutine echo loop
// at GOMAXPROCS=1 the two ways cost the same CPU within noise; a wake-up
// from another goroutine at GOMAXPROCS=1 takes 4-19 µs parked against
// 0.3-1.2 ms blocked in io_uring_enter, because the blocked owner holds the
// only P until the runtime's monitor takes it back.
//
// Under IORING_SETUP_DEFER_TASKRUN (Options.SingleIssuer) the ring fd will
// not serve: completion work is then queued on the ring, to be run only by the
// owner thread's GETEVENTS enter, and queueing it wakes neither the ring's
// poll waiters nor anything but a thread waiting in io_uring_enter. It does
// signal an eventfd registered with the ring (IORING_REGISTER_EVENTFD). So
// for such rings the parked wait is on that eventfd instead: the wait
// enables the eventfd, runs the queued work with a non-blocking GETEVENTS
// enter, and parks until the eventfd is readable; when the goroutine runs
// again it disables the eventfd (IORING_CQ_EVENTFD_DISABLED, a flag in the
// CQ ring that costs no system call), so that a busy ring does not signal
// it for every completion. A goroutine locked to its thread, as
// SingleIssuer requires, parks like any other: its thread sleeps and its P
// goes on to run other goroutines. Waking it costs more, because the
// runtime must hand a P to that one thread: 50-230 µs per cross-goroutine
// wake-up on this machine against 4-19 µs for an unlocked owner
// (BenchmarkWake); a loop that stays busy never parks and does not pay it.

import (
	"errors"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// initPark hands the ring fd, or for DEFER_TASKRUN a registered eventfd,
// to the runtime's poller. If that fails, blocking waits fall back to
// io_uring_enter.
func (r *Ring) initPark() {
	if r.flags&setupDeferTaskrun != 0 {
		r.initParkEventfd()
		return
	}
	if unix.SetNonblock(r.fd, true) != nil {
		return
	}
	r.file = os.NewFile(uintptr(r.fd), "io_uring")
	rc, err := r.file.SyscallConn()
	if err != nil {
		return
	}
	r.rc = rc
	r.onReadable = func(uintptr) bool {
		// Completion work queued for this thread (IORING_SQ_TASKRUN) runs
		// only in a GETEVENTS enter; do one without waiting.
		if r.flags&setupTaskrunFlag != 0 && loadFlags(r)&sqTaskrun != 0 {
			r.Stats.Enters++
			enterRaw(r.fd, 0, 0, enterGetEvents, nil, 0)
		}
		return r.cqReady() != 0 || loadFlags(r)&sqCQOverflow != 0
	}
}

// initParkEventfd registers an eventfd with a DEFER_TASKRUN ring and hands
// it to the runtime's poller, signals disabled until the first park.
func (r *Ring) initParkEventfd() {
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return
	}
	fd32 := int32(efd)
	if _, err := register(r.fd, registerEventfd, unsafe.Pointer(&fd32), 1); err != nil {
		unix.Close(efd)
		return
	}
	r.setEventfdSignals(false)
	r.file = os.NewFile(uintptr(efd), "io_uring-eventfd")
	rc, err := r.file.SyscallConn()
	if err != nil {
		return
	}
	r.rc, r.parkEventfd = rc, true
	r.onReadable = func(fd uintptr) bool {
		// Readable means the kernel queued work or posted a completion
		// since the eventfd was enabled: drain it and go run the work.
		_, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.drainBuf[0])), 8)
		return e == 0
	}
}

// setEventfdSignals turns the registered eventfd's signals on or off
// through IORING_CQ_EVENTFD_DISABLED. Only we write the CQ ring's flags;
// the kernel reads them with READ_ONCE before it signals. The atomic store
// orders the flag against the enter that follows it: work queued after the
// kernel can see the flag cleared signals the eventfd, and work queued
// before it is run by that enter.
func (r *Ring) setEventfdSignals(on bool) {
	v := atomic.LoadUint32(r.cqFlags)
	if on {
		v &^= cqEventfdDisabled
	} else {
		v |= cqEventfdDisabled
	}
	atomic.StoreUint32(r.cqFlags, v)
}

// aLongTimeAgo is a read deadline in the past: setting it wakes a goroutine
// parked on the file at once.
var aLongTimeAgo = time.Unix(1, 0)

// kick wakes a goroutine parked in the Go runtime's poller on the ring fd
// (or the DEFER_TASKRUN eventfd) at once, by setting a read deadline in
// the past on the file; Notify calls it after sending its wake-up, with
// notifyMu held, so Close cannot close the file under it. This is the
// epoll poller's kick (internal/poller, wake): without it the wake-up only
// makes the fd readable, and the runtime notices at its next network
// poll, which under full CPU load comes every 10 ms or so.
//
// The orderings, as in the epoll poller: the send comes before the load of
// parked, and a park stores parked before its first look at the CQ
// (rc.Read's callback). If the load sees false, the look comes after the
// send; if it sees true, the kick ends the park. A MSG_RING the kernel
// posted synchronously is then seen by the look; one it had to hand to a
// worker thread (the target ring's lock was contended), and the eventfd
// wake-up, whose CQE is posted by task work, may arrive after the look,
// and reach a park through the fd's readiness as they would without the
// kick. A kick that lands after the park ended leaves a past deadline and
// then kicked set; the next park that finds kicked clears the deadline (it
// may first return once with nothing, which every caller tolerates).
// kicked is stored after the deadline, so the park that consumes it
// clears a deadline that is already there. The cost, one runtime deadline
// update, is paid only while a goroutine is parked, and at most once per
// wait because Notify deduplicates.
func (r *Ring) kick() {
	if r.rc != nil && r.parked.Load() {
		r.file.SetReadDeadline(aLongTimeAgo)
		r.kicked.Store(true)
	}
}

// setParkDeadline arms the file's read deadline for a park of timeout
// (< 0: none), clearing a kick's past deadline if one was left behind.
func (r *Ring) setParkDeadline(timeout time.Duration) {
	if r.kicked.Swap(false) {
		r.deadline = true
	}
	if timeout > 0 {
		r.file.SetReadDeadline(time.Now().Add(timeout))
		r.deadline = true
	} else if r.deadline {
		r.file.SetReadDeadline(time.Time{})
		r.deadline = false
	}
}

// parkWait submits toSubmit SQEs without waiting and then parks the
// goroutine until the ring fd is readable or timeout (< 0: none) passes.
func (r *Ring) parkWait(toSubmit uint32, timeout time.Duration) (int, error) {
	// One non-blocking enter submits, and with GETEVENTS also flushes
	// overflowed completions and runs completion work queued for this
	// thread. Without the flush a CQ overflow would make the fd readable
	// with nothing to reap, and the caller would come back here forever.
	var flags uint32
	if loadFlags(r)&(sqCQOverflow|sqTaskrun) != 0 {
		flags = enterGetEvents
	}
	if r.parkEventfd {
		// Enable the eventfd, then run every piece of work queued so far:
		// anything queued later signals it (see setEventfdSignals).
		r.setEventfdSignals(true)
		defer r.setEventfdSignals(false)
		flags = enterGetEvents
	}
	n := 0
	if toSubmit != 0 || flags != 0 {
		r.Stats.Enters++
		var err error
		if n, err = r.enterResult(enterRaw(r.fd, toSubmit, 0, flags, nil, 0)); err != nil {
			return n, err
		}
		if r.cqReady() != 0 {
			return n, nil
		}
	}
	return n, r.parkRuntime(timeout)
}

// Park waits, without submitting anything, until a completion is ready,
// Notify is called, or timeout (< 0: no limit, > 0: at most that long)
// passes; it returns nil for each of those and for a signal. It parks the
// goroutine in the Go runtime's poller when the ring was made with
// Options.Park, and otherwise blocks in an io_uring_enter that submits
// nothing. The caller reaps afterwards.
//
// Park is the one method besides Notify that may run while another
// goroutine uses the ring's owner methods (GetSQE, Submit, Reap, under the
// caller's own lock): it touches only the completion queue's indexes
// (atomically) and state that no other method uses, so a caller may
// release its lock around Park and let other goroutines submit meanwhile.
// Only one goroutine may be in Park at a time, and it must not run
// concurrently with SubmitAndWait with a non-zero timeout, which uses the
// same state, or with Close. It refuses rings made with SingleIssuer or
// CoopTaskrun, whose completion work runs only in the owner's enters.
func (r *Ring) Park(timeout time.Duration) error {
	if r.closed.Load() {
		return ErrClosed
	}
	if r.flags&(setupDeferTaskrun|setupTaskrunFlag) != 0 {
		return errors.New("uring: Park on a ring with deferred completion work")
	}
	if r.cqReady() != 0 || timeout == 0 {
		return nil
	}
	if r.rc == nil {
		// Block in the kernel with nothing to submit: GETEVENTS and a
		// minimum of one completion, with the timeout as an extended
		// argument. ParkEnters, not Enters, counts it: Enters belongs
		// to the owner's methods, which may be running meanwhile.
		flags := uint32(enterGetEvents)
		var arg unsafe.Pointer
		var argSz uintptr
		if timeout > 0 {
			r.waitTS = unix.NsecToTimespec(int64(timeout))
			r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS)))}
			arg, argSz = unsafe.Pointer(&r.waitArg), unsafe.Sizeof(r.waitArg)
			flags |= enterExtArg
		}
		r.Stats.ParkEnters++
		switch _, e := enterBlocking(r.fd, 0, 1, flags, arg, argSz); e {
		case 0, unix.EINTR, unix.ETIME:
			return nil
		default:
			return os.NewSyscallError("io_uring_enter", e)
		}
	}
	return r.parkRuntime(timeout)
}

// parkRuntime parks the goroutine in the Go runtime's poller on the ring
// fd until a completion is posted, Notify kicks it, or timeout passes; it
// returns nil for each, ErrClosed if the ring was closed meanwhile. The
// runtime registered the fd edge-triggered: if the callback saw no
// completion, the next one to be posted is a new edge, and one posted
// between the callback's look and the park leaves the runtime's ready
// flag set, so the callback runs again at once. No completion is slept
// through. parked lets Notify kick the park (see kick).
func (r *Ring) parkRuntime(timeout time.Duration) error {
	r.setParkDeadline(timeout)
	r.Stats.Parks++
	r.parked.Store(true)
	err := r.rc.Read(r.onReadable)
	r.parked.Store(false)
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case r.closed.Load():
		return ErrClosed
	}
	return err
}
