//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package poller

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Poller is a kernel readiness queue (epoll, io_uring or kqueue) with a
// wake-up.
// The package documentation states its contract. The zero value is not
// usable; create one with [New].
type Poller struct {
	// notified is set by the Notify that writes the wake-up fd and cleared
	// by the Wait that consumes it; while it is set, Notify makes no system
	// call. See Wait for the ordering argument.
	notified atomic.Bool
	// closed is set once by Close, before Close wakes Wait and takes mu.
	closed atomic.Bool
	// mu protects the backend's fds from being closed under a running Add,
	// AddOneShot, Modify, Delete or Notify: those hold it for reading, Close
	// holds it for writing while it closes the fds.
	mu sync.RWMutex
	// waitMu serializes Wait calls and protects the backend's event buffer;
	// Close takes it to wait for a running Wait to return.
	waitMu sync.Mutex
	// b is the per-OS part: poller_epoll.go or poller_kqueue.go.
	b backend
}

// New creates a poller: the kernel queue and its wake-up fd.
func New() (*Poller, error) {
	p := &Poller{}
	if err := p.b.init(); err != nil {
		return nil, err
	}
	return p, nil
}

// Backend names the kernel interface in use: "epoll" or "io_uring" on
// Linux (chosen by SMOL_BACKEND, see the package documentation), "kqueue"
// on macOS and the BSDs.
func (p *Poller) Backend() string { return p.b.name() }

// Add registers fd for read and write readiness, edge-triggered, for the
// rest of its life (until [Poller.Delete]); events for it carry key. It
// fails with EEXIST if fd is already registered, with [ErrReservedKey] for
// key == [ReservedKey], and with [ErrClosed] after Close. Errors from the
// kernel are *os.SyscallError values wrapping a unix.Errno, so errors.Is
// works with the errno.
func (p *Poller) Add(fd int, key uint64) error {
	return p.register(fd, key, modeEdge, true, true, false)
}

// AddOneShot registers fd in one-shot mode, armed for the given directions:
// the fd reports at most one event and is then disarmed until
// [Poller.Modify] re-arms it (see the package documentation for how epoll
// and kqueue differ in what one event disarms). Errors are as for Add.
func (p *Poller) AddOneShot(fd int, key uint64, read, write bool) error {
	return p.register(fd, key, modeOneShot, read, write, false)
}

// Modify re-arms a one-shot registration made by [Poller.AddOneShot],
// replacing its interest with read and write (both false leaves it
// registered but disarmed) and its key with key. It costs one system call.
// If fd is already ready for an armed direction, the event is reported by
// the next Wait. Modify on an fd registered with Add is a mistake: the kqueue
// backend returns EINVAL, while epoll does not check and turns the
// registration into a one-shot one. Modify fails with ENOENT if fd is not
// registered.
func (p *Poller) Modify(fd int, key uint64, read, write bool) error {
	return p.register(fd, key, modeOneShot, read, write, true)
}

// register is Add, AddOneShot and Modify: it refuses the reserved key and a
// closed poller, and holds the read lock (which Close takes for writing)
// across the system call, so Close never closes the epoll or kqueue fd
// under it.
func (p *Poller) register(fd int, key uint64, m mode, read, write, modify bool) error {
	if key == ReservedKey {
		return ErrReservedKey
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if modify {
		return p.b.modify(fd, key, read, write)
	}
	return p.b.add(fd, key, m, read, write)
}

// Delete deregisters fd. Call it before closing fd. It fails with ENOENT if
// fd is not registered. A Wait that begins after Delete returns never
// reports fd's key; events already returned, or returned by a Wait running
// at the same time, may still carry it (see the package documentation on fd
// reuse).
func (p *Poller) Delete(fd int) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed.Load() {
		return ErrClosed
	}
	return p.b.del(fd)
}

// errNoRoom is returned by Wait for an empty events slice, which would
// make the kernel call fail with EINVAL.
var errNoRoom = errors.New("poller: Wait needs a non-empty events slice")

// Wait waits for readiness events and stores up to len(events) of them in
// events, returning how many it stored.
//
// timeout < 0 waits with no limit; timeout == 0 only collects the events
// that are ready now; timeout > 0 waits at most that long and never returns
// because of the timeout before the full duration has passed. On Linux the
// timeout goes to epoll_pwait2 with nanosecond precision (kernels since
// 5.11); where that call is missing (ENOSYS, or EPERM from a seccomp
// filter) it is rounded up to whole milliseconds for epoll_wait, so it is
// still never short. kqueue takes nanoseconds directly; timeouts over 10^6 s
// are clamped to 10^6 s (macOS rejects longer ones), and on epoll's
// millisecond path to about 24.8 days.
//
// Wait returns (0, nil) when it was woken by [Poller.Notify], when the
// system call was interrupted by a signal (EINTR), and when the timeout
// expired; the caller tells these apart by reading its clock and its own
// state. A Notify's wake-up is consumed here and is never one of the
// events. With an empty events slice Wait returns an error at once. If the
// poller is closed before or during the call, Wait returns (0, ErrClosed).
//
// Calls are serialized: a second concurrent Wait blocks until the first
// returns.
func (p *Poller) Wait(events []Event, timeout time.Duration) (int, error) {
	if len(events) == 0 {
		return 0, errNoRoom
	}
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	if p.closed.Load() {
		return 0, ErrClosed
	}

	// Block in the kernel. The backend consumes the wake-up fd's readiness
	// (reads the eventfd or pipe dry; EVFILT_USER resets itself) and reports
	// woke == true if it saw it.
	n, woke, err := p.b.wait(events, timeout)

	if woke {
		// Clear the flag only now, after the wake-up fd was drained, so the
		// fd and the flag never disagree in the harmful direction:
		//
		//   - Clearing first, then draining, could swallow the write of a
		//     Notify that set the flag in between: the flag would stay set
		//     with nothing left in the fd, and every later Notify would skip
		//     its write. Waits would never be woken again.
		//   - Draining first, then clearing (this order): a Notify that runs
		//     between the two sees the flag still set and skips its write.
		//     That is safe because it published its state before calling
		//     Notify, and Notify's load of the flag precedes this store in
		//     the single total order of sync/atomic operations (the Go
		//     memory model makes them sequentially consistent); the caller
		//     reads its state after Wait returns, through the same
		//     synchronization the notifier used, so it sees that state. Any
		//     Notify whose load comes after this store finds the flag clear,
		//     sets it and writes the fd, so the next Wait returns at once.
		//
		// The only disagreement left is the harmless one: Close writes the
		// fd without touching the flag, so a later Wait may wake with
		// nothing to do.
		p.notified.Store(false)
	}
	if p.closed.Load() {
		return 0, ErrClosed
	}
	return n, err
}

// Notify wakes the Wait that is blocked now, or makes the next Wait return
// at once if none is blocked. Any number of Notify calls between two Waits
// cost one system call: only the call that sets the notified flag writes
// the wake-up fd. Notify never blocks (except briefly on a concurrent
// Close) and may be called from any goroutine. It returns ErrClosed after
// Close, and a kernel error only if the write failed for a reason other
// than the fd being already readable (the flag is then cleared again so a
// later Notify retries).
func (p *Poller) Notify() error {
	if p.closed.Load() {
		return ErrClosed
	}
	// A plain load first: when a wake-up is already pending (the common
	// case under load) this reads a shared cache line instead of taking it
	// exclusively for a compare-and-swap.
	if p.notified.Load() {
		return nil
	}
	// Exactly one caller wins the swap from false to true and writes; the
	// others return. The swap is ordered after the caller's own writes
	// (program order plus sequential consistency), which Wait relies on.
	if !p.notified.CompareAndSwap(false, true) {
		return nil
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed.Load() {
		return ErrClosed
	}
	if err := p.b.wake(); err != nil {
		p.notified.Store(false)
		return err
	}
	return nil
}

// Close releases the poller. It marks the poller closed, wakes a Wait
// blocked in the kernel, waits until that Wait and every Add, AddOneShot,
// Modify, Delete and Notify in progress have returned, and then closes the
// kernel queue and the wake-up fd. Registered fds belong to the caller and
// stay open; the kernel forgets their registrations with the queue. A
// second Close returns ErrClosed.
func (p *Poller) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	// Wake a Wait that may be blocked in the kernel. The fds are still
	// open (only this call closes them), so the write is safe without mu.
	// A Wait that has not yet entered the kernel either sees closed when it
	// takes waitMu, or finds this wake-up pending and returns at once.
	_ = p.b.wake()
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b.close()
}

// mode selects how add registers an fd.
type mode uint8

const (
	modeEdge    mode = iota // read and write, edge-triggered, once
	modeOneShot             // the given directions, level, one event then disarmed
)
