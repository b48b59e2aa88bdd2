//go:build darwin || freebsd || netbsd || openbsd || dragonfly

// The kqueue backend (macOS and the BSDs). It is built and vetted for every
// one of these systems but only run by CI on none of them yet: the tests in
// this package are portable and should be run on a Mac or a BSD before the
// backend is trusted there.
//
// # Layout
//
// One kqueue. Add registers two filters per fd, EVFILT_READ and
// EVFILT_WRITE, with EV_CLEAR (edge-triggered: the state is reset when the
// event is retrieved). One-shot registrations use EV_ONESHOT; an unwanted
// direction is registered with EV_DISABLE rather than left out, so that
// Modify can always use EV_ADD (which creates or updates) and never has to
// know whether a one-shot filter has already fired and deleted itself.
//
// kqueue's udata cannot carry a 64-bit key everywhere: it is a *byte on
// macOS, FreeBSD, OpenBSD and DragonFly, and an int32 on 32-bit NetBSD.
// Smuggling an integer through a pointer field would trip go vet and could
// crash the garbage collector. So the keys live in a table indexed by fd,
// and udata carries only an 8-bit generation tag per registration:
// kqueue_udata_ptr.go points udata into a 256-byte array owned by the poller
// (a real pointer, so the collector is content), kqueue_udata_int.go stores
// the integer on NetBSD. Wait drops events whose tag is not the fd's
// current one, which is what keeps an event of a deleted registration from
// being reported under the key of a new registration of the same fd number
// (see the package documentation for the 256-registration wrap).
//
// The wake-up is EVFILT_USER with EV_CLEAR on macOS and FreeBSD
// (kqueue_wake_user.go: one kevent call to trigger, nothing to drain), and a
// non-blocking pipe elsewhere (kqueue_wake_pipe.go), as in the Go runtime.

package poller

import (
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/internal/uring"
)

// maxKqueueTimeout is the longest timeout passed to kevent: macOS rejects
// much longer ones with EINVAL. Wait may then return early with no events,
// which the contract allows.
const maxKqueueTimeout = 1e6 * time.Second

// kqEntry is the table's record for one fd number.
type kqEntry struct {
	key uint64
	// gen is the tag of the current registration, or of the last one once
	// the entry is free. Add increments it (wrapping at 256).
	gen uint8
	// state is 0 when fd is not registered, else the mode plus one.
	state uint8
}

// backend is the kqueue state of a Poller.
type backend struct {
	kq    int
	wakeR int // pipe read end, or -1 with EVFILT_USER
	wakeW int // pipe write end, or -1 with EVFILT_USER

	// tabMu guards tab. Add, Modify and Delete hold it briefly; Wait holds it
	// once per batch while it converts events.
	tabMu sync.Mutex
	tab   []kqEntry // indexed by fd

	// raw is the kernel event buffer; Wait owns it (under Poller.waitMu).
	raw []unix.Kevent_t
	// interrupted counts waits that ended with EINTR, which happens now
	// and then when the Go runtime's preemption signal reaches the thread
	// just as it enters the kernel. Tests use it to tell an interrupted
	// wait from a timeout that fired early. Only Wait touches it.
	interrupted uint64
	// tags gives udata something to carry the generation tag in.
	tags tagSpace
	// drainBuf receives what the pipe wake-up's drainWake reads (unused
	// with EVFILT_USER); see the epoll backend for why it is not on the
	// stack.
	drainBuf [64]byte
}

// init creates the kqueue and the wake-up. SMOL_BACKEND=uring, which
// cannot be honoured here, is an error rather than a silent fallback, and
// so is a value that does not parse.
func (b *backend) init() error {
	b.kq, b.wakeR, b.wakeW = -1, -1, -1
	if c, err := uring.Chosen(); err != nil {
		return fmt.Errorf("poller: %w", err)
	} else if c == uring.URing || c == uring.Completion {
		return fmt.Errorf("poller: %s=uring, but io_uring is unavailable: %w", uring.EnvBackend, uring.Available())
	}
	// kqueue(2) has no close-on-exec flag everywhere; hold ForkLock so that
	// no fork in another goroutine can inherit the fd before it is set.
	syscall.ForkLock.RLock()
	kq, err := unix.Kqueue()
	if err == nil {
		unix.CloseOnExec(kq)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return os.NewSyscallError("kqueue", err)
	}
	b.kq = kq
	if err := b.initWake(); err != nil {
		b.close()
		return err
	}
	return nil
}

// kevent applies changes, treating EINTR as success: kqueue applies the
// whole change list before it can be interrupted.
func (b *backend) kevent(changes []unix.Kevent_t) error {
	_, err := unix.Kevent(b.kq, changes, nil, nil)
	if err != nil && err != unix.EINTR {
		return os.NewSyscallError("kevent", err)
	}
	return nil
}

// filterChanges fills ch with the two filter changes for a registration.
// Edge mode: both filters with EV_ADD|EV_CLEAR. One-shot mode: both with
// EV_ADD|EV_ONESHOT, and EV_ENABLE or EV_DISABLE by interest.
func (b *backend) filterChanges(ch *[2]unix.Kevent_t, fd int, gen uint8, m mode, read, write bool) {
	flags := func(want bool) int {
		if m == modeEdge {
			return unix.EV_ADD | unix.EV_CLEAR
		}
		if want {
			return unix.EV_ADD | unix.EV_ONESHOT | unix.EV_ENABLE
		}
		return unix.EV_ADD | unix.EV_ONESHOT | unix.EV_DISABLE
	}
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, flags(read))
	unix.SetKevent(&ch[1], fd, unix.EVFILT_WRITE, flags(write))
	b.tags.set(&ch[0], gen)
	b.tags.set(&ch[1], gen)
}

// add records fd in the table under a new generation, then registers it.
func (b *backend) add(fd int, key uint64, m mode, read, write bool) error {
	if fd < 0 {
		return os.NewSyscallError("kevent", unix.EBADF)
	}

	// Claim the table entry. It is claimed before the kernel call so that
	// an event can never arrive for a registration the table does not know.
	b.tabMu.Lock()
	if fd >= len(b.tab) {
		n := max(fd+1, 2*len(b.tab), 64)
		b.tab = append(b.tab, make([]kqEntry, n-len(b.tab))...)
	}
	ent := &b.tab[fd]
	if ent.state != 0 {
		b.tabMu.Unlock()
		return os.NewSyscallError("kevent", unix.EEXIST)
	}
	ent.gen++
	ent.key = key
	ent.state = uint8(m) + 1
	gen := ent.gen
	b.tabMu.Unlock()

	// Register both filters in one call.
	var ch [2]unix.Kevent_t
	b.filterChanges(&ch, fd, gen, m, read, write)
	if err := b.kevent(ch[:]); err != nil {
		// kevent stops at the first failing change, so the read filter may
		// be in; remove it, then free the entry.
		b.deleteFilters(fd)
		b.tabMu.Lock()
		b.tab[fd].state = 0
		b.tabMu.Unlock()
		return err
	}
	return nil
}

// modify re-arms a one-shot registration.
func (b *backend) modify(fd int, key uint64, read, write bool) error {
	// Check the mode and update the key under the table lock.
	b.tabMu.Lock()
	if fd < 0 || fd >= len(b.tab) || b.tab[fd].state == 0 {
		b.tabMu.Unlock()
		return os.NewSyscallError("kevent", unix.ENOENT)
	}
	ent := &b.tab[fd]
	if ent.state != uint8(modeOneShot)+1 {
		b.tabMu.Unlock()
		return os.NewSyscallError("kevent", unix.EINVAL)
	}
	ent.key = key
	gen := ent.gen
	b.tabMu.Unlock()

	// EV_ADD re-creates a filter that fired and deleted itself, and updates
	// one that is still there.
	var ch [2]unix.Kevent_t
	b.filterChanges(&ch, fd, gen, modeOneShot, read, write)
	return b.kevent(ch[:])
}

// del frees the table entry, then deletes both filters.
func (b *backend) del(fd int) error {
	// Free the entry first: from here on Wait drops fd's events.
	b.tabMu.Lock()
	if fd < 0 || fd >= len(b.tab) || b.tab[fd].state == 0 {
		b.tabMu.Unlock()
		return os.NewSyscallError("kevent", unix.ENOENT)
	}
	oneShot := b.tab[fd].state == uint8(modeOneShot)+1
	b.tab[fd].state = 0
	b.tabMu.Unlock()

	// Delete both filters in one call. A one-shot filter that fired has
	// deleted itself, so ENOENT is expected there; kevent stops at the
	// first failing change, so fall back to deleting one at a time.
	var ch [2]unix.Kevent_t
	unix.SetKevent(&ch[0], fd, unix.EVFILT_READ, unix.EV_DELETE)
	unix.SetKevent(&ch[1], fd, unix.EVFILT_WRITE, unix.EV_DELETE)
	err := b.kevent(ch[:])
	if err != nil && oneShot {
		err = b.deleteFilters(fd)
	}
	return err
}

// deleteFilters deletes fd's two filters one at a time, ignoring ENOENT;
// it returns the first other error.
func (b *backend) deleteFilters(fd int) error {
	var first error
	for _, filter := range [2]int{unix.EVFILT_READ, unix.EVFILT_WRITE} {
		var ch [1]unix.Kevent_t
		unix.SetKevent(&ch[0], fd, filter, unix.EV_DELETE)
		_, err := unix.Kevent(b.kq, ch[:], nil, nil)
		if err != nil && err != unix.ENOENT && err != unix.EINTR && first == nil {
			first = os.NewSyscallError("kevent", err)
		}
	}
	return first
}

// makeKevents allocates an event buffer the garbage collector does not
// scan. The kernel writes udata pointers into it without write barriers,
// possibly a byte at a time, while the collector may be scanning the heap
// concurrently; a scanned, half-written pointer could crash the collector.
// Every udata we register points into b.tags, which the Poller keeps alive,
// so nothing is lost by hiding these copies from the collector. The buffer
// is allocated as []uint64, so it is 8-byte aligned, enough for Kevent_t.
func makeKevents(n int) []unix.Kevent_t {
	size := unsafe.Sizeof(unix.Kevent_t{})
	words := make([]uint64, (uintptr(n)*size+7)/8)
	return unsafe.Slice((*unix.Kevent_t)(unsafe.Pointer(&words[0])), n)
}

// wait runs one kevent call and converts the result.
func (b *backend) wait(events []Event, timeout time.Duration) (n int, woke bool, err error) {
	// Size the kernel buffer like the caller's slice; it only grows.
	if len(b.raw) < len(events) {
		b.raw = makeKevents(len(events))
	}
	raw := b.raw[:len(events)]

	// Wait in the kernel. kevent takes nanoseconds, so the timeout is
	// exact; nil means no limit.
	var ts unix.Timespec
	var tsp *unix.Timespec
	if timeout >= 0 {
		ts = unix.NsecToTimespec(int64(min(timeout, maxKqueueTimeout)))
		tsp = &ts
	}
	r, err := unix.Kevent(b.kq, nil, raw, tsp)
	if err == unix.EINTR {
		b.interrupted++
		return 0, false, nil
	}
	if err != nil {
		return 0, false, os.NewSyscallError("kevent", err)
	}

	// Convert under the table lock: look each fd up, drop events whose
	// generation tag is not the fd's current registration, and merge the
	// read and write events of one fd when kqueue returns them adjacently.
	b.tabMu.Lock()
	for i := range raw[:r] {
		ev := &raw[i]
		if b.isWake(ev) {
			woke = true
			continue
		}
		if ev.Flags&unix.EV_ERROR != 0 {
			continue
		}
		fd := int(ev.Ident)
		tag, ok := b.tags.get(ev)
		if !ok || fd < 0 || fd >= len(b.tab) {
			continue
		}
		ent := &b.tab[fd]
		if ent.state == 0 || ent.gen != tag {
			continue
		}
		e := Event{Key: ent.key}
		switch ev.Filter {
		case unix.EVFILT_READ:
			e.Readable = true
		case unix.EVFILT_WRITE:
			e.Writable = true
		default:
			continue
		}
		if ev.Flags&unix.EV_EOF != 0 {
			e.Hangup = true
			if ev.Fflags != 0 {
				// fflags holds the socket error.
				e.Err, e.Readable, e.Writable = true, true, true
			}
		}
		if n > 0 && events[n-1].Key == e.Key {
			prev := &events[n-1]
			prev.Readable = prev.Readable || e.Readable
			prev.Writable = prev.Writable || e.Writable
			prev.Hangup = prev.Hangup || e.Hangup
			prev.Err = prev.Err || e.Err
			continue
		}
		events[n] = e
		n++
	}
	b.tabMu.Unlock()

	// Consume the wake-up outside the lock.
	if woke {
		b.drainWake()
	}
	return n, woke, nil
}

// close closes the wake-up pipe (if any) and the kqueue, returning the
// first error.
func (b *backend) close() error {
	var first error
	for _, fd := range [3]*int{&b.wakeW, &b.wakeR, &b.kq} {
		if *fd >= 0 {
			if err := unix.Close(*fd); err != nil && first == nil {
				first = os.NewSyscallError("close", err)
			}
			*fd = -1
		}
	}
	return first
}

// name is Backend's answer.
func (b *backend) name() string { return "kqueue" }
