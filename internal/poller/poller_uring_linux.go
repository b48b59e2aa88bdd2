//go:build linux

// The io_uring backend: the same readiness contract as the epoll backend,
// kept with IORING_OP_POLL_ADD requests on an io_uring (internal/uring)
// instead of an epoll set. It is chosen at run time (see choose below and
// the package documentation); the epoll backend remains the default.
//
// # Layout
//
// One ring, made with uring.Options.Park, so that a blocking Wait parks its
// goroutine in the Go runtime's poller on the ring fd exactly as the epoll
// backend parks on the epoll fd; the ring's own Notify (IORING_OP_MSG_RING
// from a small second ring, or an eventfd poll) is the wake-up.
//
// Add arms one multishot poll for POLLIN|POLLOUT|POLLRDHUP. Without
// IORING_POLL_ADD_LEVEL the kernel adds EPOLLET to the request: it posts a
// CQE with the ready mask on each wake-up of the fd's wait queue that
// matches the interest (and one at once if the fd is ready when armed),
// which is what epoll's EPOLLET reports. AddOneShot and Modify arm a
// single-shot poll for the chosen directions: level at arming (a ready fd
// completes at once), one CQE, then disarmed, as epoll's EPOLLONESHOT.
//
// A CQE's user data names the registration, not the caller's key: the fd
// in the low 32 bits and a registration number (seq, never 0) in the high
// 32. The table regs, indexed by fd, holds each live registration's key
// and seq; a CQE whose seq is not the fd's current one is stale (a
// deleted or modified registration, or an earlier file under a reused fd
// number) and is dropped. The table is changed and read under mu, so a
// Wait that begins after Delete returns never reports the deleted key, and
// neither does one running concurrently once Delete has returned: stricter
// than epoll, which the contract allows. The removal of a poll carries the
// poll's seq with removeBit set, which no registration has.
//
// # A registration's state machine
//
//	unregistered --Add--> armed(multishot) --CQE with F_MORE--> armed (event)
//	armed(multishot) --CQE without F_MORE, res >= 0--> rearm (event), then
//	    armed again at the start of the next Wait (batched)
//	armed(multishot) --CQE without F_MORE, -ECANCELED--> rearm (no event):
//	    the kernel cancelled it, as it does when the thread that armed it
//	    exits; our own removals change seq first, so they never get here
//	armed --CQE without F_MORE, other error--> dead (event with Err): the
//	    fd is unusable (EBADF: closed before Delete); the caller learns
//	    why from its next read or write, and Delete still works
//	unregistered --AddOneShot--> armed(oneshot) --CQE--> disarmed (event)
//	registered --Modify--> old poll removed, new seq, armed(oneshot) or
//	    disarmed
//	registered --Delete--> poll removed, unregistered (seq 0)
//	removal --CQE -EALREADY--> removal again at once (the kernel was
//	    completing the poll on another thread and left it armed; it
//	    would hold the file open after the caller's close)
//
// The kernel ends a multishot poll on its own when it cannot post a CQE
// (the CQ and its overflow list are full) and when the file has no poll
// support (a regular file: the poll completes at once with the file's
// always-ready mask). Re-arming the first is right; re-arming the second
// would report the file ready on every Wait, so Add refuses regular files
// and directories with EPERM, as epoll_ctl does (one fstat per Add).
//
// # System calls
//
// Add, AddOneShot and Modify each prepare their SQE and submit it at once
// (one io_uring_enter, the twin of epoll_ctl's one call): a Wait may be
// parked, and an fd registered only at its next wake-up would miss
// readiness reported meanwhile. Delete cancels synchronously (one
// io_uring_register, IORING_REGISTER_SYNC_CANCEL), because a poll removed
// late keeps a closed socket open in the kernel (the request holds a
// reference to the file); see del.
// Re-arms are batched: Wait prepares every pending one and submits them
// all with the one enter it makes, before it reaps. A Wait that has
// nothing to submit and finds completions ready makes no system call; a
// blocking Wait with nothing ready parks, which costs the Go runtime's own
// epoll_wait. In the steady state of an echo server (registrations long
// lived, multishot polls never ending) the backend therefore makes no
// io_uring_enter at all; the reads and writes are ordinary system calls in
// both backends.
//
// # What it costs: the thread that armed the poll
//
// The kernel runs a poll's completion (the vfs_poll and the posting of the
// CQE) as task work on the thread that submitted it, signalling that
// thread if it is not already in the kernel. Go threads run many
// goroutines, so the thread that armed a socket's poll is, at the moment
// data arrives, running something else or asleep, and is interrupted or
// woken for each CQE. epoll's callback posts the event from the waker's
// context directly. That hop is the measured cost of this backend (see
// BENCHMARKS.md, "io_uring backend"), and the reason the automatic choice
// stays epoll. SINGLE_ISSUER|DEFER_TASKRUN would move the work into the
// waiter's enter, but binds the ring to one locked OS thread, and Add is
// called from any goroutine.

package poller

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/internal/uring"
)

// autoURing is the automatic choice (SMOL_BACKEND unset or auto): false
// keeps epoll, because the io_uring backend measured slower on echo (see
// BENCHMARKS.md, "io_uring backend").
const autoURing = false

// uringAvailable is uring.Available; tests replace it to simulate a kernel
// that refuses io_uring.
var uringAvailable = uring.Available

// chooseURing reads SMOL_BACKEND and decides: use io_uring or not, or an
// error if the variable is malformed or demands io_uring that this kernel
// refuses (no silent fallback when forced).
func chooseURing() (bool, error) {
	c, err := uring.Chosen()
	if err != nil {
		return false, fmt.Errorf("poller: %w", err)
	}
	switch c {
	case uring.Epoll, uring.Completion:
		// uring-completion keeps readiness on epoll; smolnet's completion
		// rings are its own (see smolnet/uring_linux.go).
		return false, nil
	case uring.URing:
		if err := uringAvailable(); err != nil {
			return false, fmt.Errorf("poller: %s=uring, but io_uring is unavailable: %w", uring.EnvBackend, err)
		}
		return true, nil
	}
	return autoURing && uringAvailable() == nil, nil
}

// uringBackend is the io_uring state of a Poller.
type uringBackend struct {
	ring *uring.Ring

	// mu guards the ring's submission side and its Reap (the Ring's owner
	// methods, which must not run concurrently) and regs, rearm and seq.
	// Wait releases it while it parks, so that Add and Delete are never
	// held up by a waiting goroutine.
	mu    sync.Mutex
	regs  regTable
	seq   uint32
	rearm []int32 // fds whose multishot poll ended, to re-arm in Wait
	// reremove lists the polls (their user data) whose removal the
	// kernel answered with EALREADY, to remove again in Wait.
	reremove []uint64

	// cqes is Wait's completion buffer and batch the number of the
	// current reap (both under Poller.waitMu and mu).
	cqes  []uring.CQE
	batch uint32
}

// regTable maps fds to registrations: pages of 256 entries, allocated
// when an fd in their range is first added and never moved. A flat slice
// grown by append copied itself on every growth, which came to 320 bytes
// allocated per connection in internal/echo's TestIdleConnMemory (fds are
// dense but the table is indexed by fd, and append grows large slices by
// a quarter); pages cost the 24-byte entries and nothing more.
type regTable struct{ pages []*[regPage]ureg }

const regPage = 256

// get returns fd's entry, or nil if its page was never allocated.
func (t *regTable) get(fd int) *ureg {
	if fd < 0 || fd/regPage >= len(t.pages) || t.pages[fd/regPage] == nil {
		return nil
	}
	return &t.pages[fd/regPage][fd%regPage]
}

// slot returns fd's entry, allocating its page (fd >= 0).
func (t *regTable) slot(fd int) *ureg {
	p := fd / regPage
	for p >= len(t.pages) {
		t.pages = append(t.pages, nil)
	}
	if t.pages[p] == nil {
		t.pages[p] = new([regPage]ureg)
	}
	return &t.pages[p][fd%regPage]
}

// ureg is one fd's registration; seq 0 means none.
type ureg struct {
	key   uint64
	seq   uint32
	mask  uint16 // the poll's interest (POLLRDHUP, the highest bit, is 0x2000)
	multi bool   // edge-triggered (Add) rather than one-shot
	armed bool   // a poll request for seq is in flight or prepared
	// batch and slot say where this fd's event is in the events slice of
	// the reap in progress, when batch is that reap's number: further
	// CQEs for the fd in the same reap merge into it (see reap).
	batch uint32
	slot  int32
}

// uringEdgeMask is Add's interest, the twin of EPOLLIN|EPOLLOUT|EPOLLRDHUP.
const uringEdgeMask = unix.POLLIN | unix.POLLOUT | unix.POLLRDHUP

// userData packs a registration into a CQE's user data.
func userData(fd int, seq uint32) uint64 { return uint64(seq)<<32 | uint64(uint32(fd)) }

// removeBit marks, in the seq half of the user data, the removal of the
// poll whose seq is the rest: registrations' seqs stay below it.
const removeBit = 1 << 31

// newURingBackend sets up the ring.
func newURingBackend() (*uringBackend, error) {
	// A large CQ: a multishot poll posts a CQE per wake-up, and each of
	// thousands of connections may have one waiting when Wait comes round;
	// CQEs that do not fit cost the kernel's overflow path and can end
	// multishot polls. 16,384 CQEs are 256 KiB, touched only as used.
	r, err := uring.New(uring.Options{Entries: 256, CQEntries: 16384, Park: true})
	if err != nil {
		return nil, err
	}
	return &uringBackend{ring: r}, nil
}

// checkPollable refuses what epoll_ctl refuses with EPERM and what would
// make a multishot poll end at once: regular files and directories.
func checkPollable(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return os.NewSyscallError("fstat", err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFDIR:
		return os.NewSyscallError("io_uring poll_add", unix.EPERM)
	}
	return nil
}

// arm prepares fd's poll request; mu is held.
func (u *uringBackend) arm(fd int, r *ureg) error {
	sqe, err := u.ring.GetSQE()
	if err != nil {
		return err
	}
	if r.multi {
		uring.PrepPollMultishot(sqe, fd, uint32(r.mask), userData(fd, r.seq))
	} else {
		uring.PrepPoll(sqe, fd, uint32(r.mask), userData(fd, r.seq))
	}
	r.armed = true
	return nil
}

// disarm prepares the removal of fd's poll request if one is armed; mu is
// held. Its CQE, and the poll's final one, are dropped by Wait (seq 0 and,
// once the caller changes seq, a stale seq).
func (u *uringBackend) disarm(fd int, r *ureg) error {
	if !r.armed {
		return nil
	}
	sqe, err := u.ring.GetSQE()
	if err != nil {
		return err
	}
	uring.PrepPollRemove(sqe, userData(fd, r.seq), userData(fd, r.seq|removeBit))
	r.armed = false
	return nil
}

// nextSeq returns a fresh registration number, never 0 and below
// removeBit; mu is held.
func (u *uringBackend) nextSeq() uint32 {
	u.seq = (u.seq + 1) &^ removeBit
	if u.seq == 0 {
		u.seq = 1
	}
	return u.seq
}

// submit hands the prepared SQEs to the kernel; mu is held. When the
// kernel refuses for now (EBUSY, EAGAIN: completions must be reaped
// first), the SQEs stay queued and the waiter is woken to submit them.
func (u *uringBackend) submit() error {
	_, err := u.ring.Submit()
	if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EAGAIN) {
		return u.ring.Notify()
	}
	return err
}

// add registers fd.
func (u *uringBackend) add(fd int, key uint64, m mode, read, write bool) error {
	if fd < 0 {
		return os.NewSyscallError("io_uring poll_add", unix.EBADF)
	}
	if err := checkPollable(fd); err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.regs.slot(fd)
	if r.seq != 0 {
		return os.NewSyscallError("io_uring poll_add", unix.EEXIST)
	}
	nr := ureg{key: key, seq: u.nextSeq(), mask: uringEdgeMask, multi: true}
	if m == modeOneShot {
		nr.mask, nr.multi = oneShotMask(read, write), false
	}
	if nr.mask != 0 {
		if err := u.arm(fd, &nr); err != nil {
			return err
		}
	}
	*r = nr
	return u.submit()
}

// oneShotMask is the one-shot interest for the given directions.
func oneShotMask(read, write bool) uint16 {
	var e uint16
	if read {
		e |= unix.POLLIN | unix.POLLRDHUP
	}
	if write {
		e |= unix.POLLOUT
	}
	return e
}

// modify replaces fd's poll with a one-shot poll for read and write.
func (u *uringBackend) modify(fd int, key uint64, read, write bool) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.regs.get(fd)
	if r == nil || r.seq == 0 {
		return os.NewSyscallError("io_uring poll_add", unix.ENOENT)
	}
	if err := u.disarm(fd, r); err != nil {
		return err
	}
	*r = ureg{key: key, seq: u.nextSeq(), mask: oneShotMask(read, write)}
	if r.mask != 0 {
		if err := u.arm(fd, r); err != nil {
			return err
		}
	}
	return u.submit()
}

// del deregisters fd and removes its poll at once, so that the request's
// reference to the file does not outlive the caller's close.
func (u *uringBackend) del(fd int) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.regs.get(fd)
	if r == nil || r.seq == 0 {
		return os.NewSyscallError("io_uring poll_remove", unix.ENOENT)
	}
	// A synchronous cancel: when it returns, the poll request is gone and
	// has dropped its reference to the file, so the caller's close closes
	// the socket at once (a listener refuses connections, a peer sees the
	// FIN or RST). An asynchronous removal returns before the request's
	// completion work has run on the thread that armed it, which left a
	// closed listener accepting for a moment (examples/gracefulecho's
	// TestGracefulShutdown failed on io_uring). ENOENT: it had ended
	// already. Kernels before 6.0 lack it (EINVAL): remove asynchronously.
	if r.armed {
		if u.ring.Pending() != 0 {
			u.submit() // the poll may still be queued: hand it over first
		}
		err := u.ring.CancelSync(userData(fd, r.seq), time.Second)
		if err == nil || errors.Is(err, unix.ENOENT) {
			*r = ureg{}
			return nil
		}
	}
	if err := u.disarm(fd, r); err != nil {
		return err
	}
	*r = ureg{}
	return u.submit()
}

// wait submits the pending re-arms, reaps, and parks until something is
// ready, Notify is called or the timeout passes.
func (u *uringBackend) wait(events []Event, timeout time.Duration) (n int, woke bool, err error) {
	if len(u.cqes) < len(events) {
		u.cqes = make([]uring.CQE, len(events))
	}
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		// Submit and reap under mu. The wake-up CQEs are consumed by Reap;
		// the change in Stats.Wakes says whether one was.
		u.mu.Lock()
		u.prepRearms()
		_, serr := u.ring.Submit()
		wakes := u.ring.Stats.Wakes
		n = u.reap(events)
		woke = u.ring.Stats.Wakes != wakes
		if serr == nil && len(u.rearm)+len(u.reremove) > 0 {
			// Polls to re-arm or to remove again, found by this reap:
			// submit them now, not at the next Wait, which may be long in
			// coming (a removal that failed keeps a closed socket open).
			u.prepRearms()
			_, serr = u.ring.Submit()
		}
		u.mu.Unlock()
		if serr != nil && !errors.Is(serr, unix.EBUSY) && !errors.Is(serr, unix.EAGAIN) {
			return n, woke, serr
		}
		if n > 0 || woke || timeout == 0 {
			return n, woke, nil
		}
		// Nothing (or only stale CQEs): park with mu released, so Add and
		// Delete go ahead meanwhile. Their CQEs, like any other, make the
		// ring fd readable and end the park.
		left := time.Duration(-1)
		if timeout > 0 {
			if left = time.Until(deadline); left <= 0 {
				return 0, false, nil
			}
		}
		if err := u.ring.Park(left); err != nil {
			if errors.Is(err, uring.ErrClosed) {
				return 0, false, ErrClosed
			}
			return 0, false, err
		}
	}
}

// prepRearms prepares the polls of fds whose multishot poll ended, and
// the removals to try again; mu is held. One that does not fit stays
// listed for the next Wait.
func (u *uringBackend) prepRearms() {
	for len(u.reremove) > 0 {
		target := u.reremove[len(u.reremove)-1]
		sqe, err := u.ring.GetSQE()
		if err != nil {
			return
		}
		uring.PrepPollRemove(sqe, target, target|removeBit<<32)
		u.reremove = u.reremove[:len(u.reremove)-1]
	}
	for len(u.rearm) > 0 {
		fd := int(u.rearm[len(u.rearm)-1])
		{
			// Still registered, multishot and not armed since: re-arm. A
			// Delete or Modify in between left seq 0 or a one-shot.
			if r := u.regs.get(fd); r != nil && r.seq != 0 && r.multi && !r.armed {
				if u.arm(fd, r) != nil {
					return
				}
			}
		}
		u.rearm = u.rearm[:len(u.rearm)-1]
	}
}

// maxReap bounds the CQEs one Wait consumes, so that a flood of
// completions cannot keep it reaping for ever.
const maxReap = 8192

// reap converts ready completions into events, one event per fd; mu is
// held.
//
// A multishot poll posts a CQE for every wake-up of the fd, and a socket
// receiving a bulk transfer is woken for nearly every segment, so one busy
// fd can put thousands of CQEs in the queue between two Waits, where epoll
// keeps one ready-list entry per fd however often it is woken. Turning
// each CQE into an event would fill the caller's slice with that one fd
// and leave the others' CQEs queued behind it (measured: the flood test in
// internal/echo failed its latency bound). So the CQEs of one fd merge
// into one event (the flags ORed), and reap keeps reaping while the
// events slice has room: it reaps at most as many CQEs as there are free
// slots, so a new fd always finds one.
func (u *uringBackend) reap(events []Event) int {
	// A fresh reap number; 0 is skipped, since an unused ureg holds it.
	if u.batch++; u.batch == 0 {
		u.batch = 1
	}
	n, total := 0, 0
	for n < len(events) && total < maxReap {
		want := len(events) - n
		m := u.ring.Reap(u.cqes[:want])
		total += m
		for i := range u.cqes[:m] {
			n = u.convert(&u.cqes[i], events, n)
		}
		if m < want {
			break // the queue is empty
		}
	}
	return n
}

// convert applies one CQE: it merges its event into events (which holds
// n events) and returns the new count; mu is held.
func (u *uringBackend) convert(c *uring.CQE, events []Event, n int) int {
	fd, seq := int(uint32(c.UserData)), uint32(c.UserData>>32)
	if seq&removeBit != 0 {
		// The result of a removal. EALREADY: the poll was being completed
		// on another thread at that moment and stays armed, holding its
		// file open, so remove it again (seen on 6.18 when Delete races
		// with a wake-up of the fd). 0 and ENOENT: it is gone.
		if c.Res == -int32(unix.EALREADY) {
			u.reremove = append(u.reremove, c.UserData&^(uint64(removeBit)<<32))
		}
		return n
	}
	r := u.regs.get(fd)
	if r == nil || r.seq != seq {
		return n // stale: see the state machine above
	}
	more := c.Flags&uring.CQEFMore != 0
	if !more {
		r.armed = false
	}
	var ev Event
	switch {
	case c.Res < 0 && r.multi && !more && unix.Errno(-c.Res) == unix.ECANCELED:
		// Cancelled by the kernel: re-arm, no event.
		u.rearm = append(u.rearm, int32(fd))
		return n
	case c.Res < 0:
		// The poll failed; report it so that the caller's next read or
		// write finds out why.
		ev = Event{Readable: true, Writable: true, Err: true}
	default:
		e := uint32(c.Res)
		ev = Event{
			Readable: e&(unix.POLLIN|unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0,
			Writable: e&(unix.POLLOUT|unix.POLLHUP|unix.POLLERR) != 0,
			Hangup:   e&(unix.POLLRDHUP|unix.POLLHUP) != 0,
			Err:      e&unix.POLLERR != 0,
		}
		if r.multi && !more {
			u.rearm = append(u.rearm, int32(fd))
		}
	}
	if r.batch == u.batch {
		e := &events[r.slot]
		e.Readable = e.Readable || ev.Readable
		e.Writable = e.Writable || ev.Writable
		e.Hangup = e.Hangup || ev.Hangup
		e.Err = e.Err || ev.Err
		return n
	}
	ev.Key = r.key
	events[n] = ev
	r.batch, r.slot = u.batch, int32(n)
	return n + 1
}

// wake is Notify's system call: the ring's own wake-up.
func (u *uringBackend) wake() error {
	err := u.ring.Notify()
	if errors.Is(err, uring.ErrClosed) {
		return ErrClosed
	}
	return err
}

// close releases the ring; the kernel cancels every poll.
func (u *uringBackend) close() error { return u.ring.Close() }
