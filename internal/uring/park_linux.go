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
// This does not work with IORING_SETUP_DEFER_TASKRUN: completions are then
// posted only inside the owner thread's GETEVENTS enter, so the fd would not
// become readable while the owner is parked. New ignores Park for
// SingleIssuer rings.

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// initPark hands the ring fd to the runtime's poller. If the runtime
// refuses it (it should not on Linux), blocking waits fall back to
// io_uring_enter.
func (r *Ring) initPark() {
	if r.flags&setupDeferTaskrun != 0 {
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
	if timeout > 0 {
		r.file.SetReadDeadline(time.Now().Add(timeout))
		r.deadline = true
	} else if r.deadline {
		r.file.SetReadDeadline(time.Time{})
		r.deadline = false
	}
	r.Stats.Parks++
	// The runtime registered the fd edge-triggered. If the callback saw no
	// completion, the next one to be posted is a new edge; one posted
	// between the callback's look and the park leaves the runtime's ready
	// flag set, so the callback runs again at once. No completion is slept
	// through.
	err := r.rc.Read(r.onReadable)
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		return n, nil
	case r.closed.Load():
		return n, ErrClosed
	}
	return n, err
}
