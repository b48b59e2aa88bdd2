package smol

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/smolgo/smol/internal/poller"
	"golang.org/x/sys/unix"
)

// FD is a non-blocking file descriptor registered with the reactor: its
// readiness becomes futures and poll-style reads and writes that retry on
// EAGAIN. Any fd that epoll or kqueue accepts works: sockets, pipes, ttys,
// eventfds, signalfds.
//
// A task whose read (or write) is pending is woken when the fd becomes
// readable (writable). Any number of tasks may wait in one direction; the
// next readiness wakes them all, and those that find nothing to do wait
// again. The common case, one task waiting in one direction at a time (or
// in both), keeps its waker inline and allocates nothing; waiters beyond
// it (a second task, as when one reads while another writes) go to a side
// table, allocated once.
//
// Readiness is counted per direction. An operation notes the count before
// its syscall and, on EAGAIN, waits only for a count beyond it: readiness
// seen by an earlier attempt, or by another task, never satisfies a waiter
// that registered after it, and an edge that arrives between the syscall
// and the registration is never lost. The counts are 32 bits: a waiter
// compares for equality within one poll, which 2^32 edges cannot span.
//
// An FD is 64 bytes, since an idle connection holds one; TestIdleSizes
// keeps it so.
type FD struct {
	fd    int32
	idx   uint32        // the slot in the reactor's source table
	flags atomic.Uint32 // fdFreed, fdHup, fdStream
	refs  atomic.Uint32 // fdClosed bit plus operations in flight
	seq   [2]atomic.Uint32
	// drained implements the short-read rule (see SetStream): 1 + the read
	// readiness count at which a short read emptied the kernel buffer, or 0.
	drained atomic.Uint32
	wdirs   uint8      // the directions (bit d) that waker waits in; guarded by mu
	mu      sync.Mutex // guards waker, wdirs and extra
	waker   Waker
	extra   *[2][]Waker // waiters beyond the inline one in each direction; rare
}

// FD flags. fdHup is set once an event reports hang-up or error: from then
// on a short read proves nothing (the end of the stream may be queued behind
// the data, with no edge to come), so reads go to the kernel.
const (
	fdFreed  uint32 = 1 << iota // deregistered and closed
	fdHup                       // hang-up or error seen
	fdStream                    // SetStream was called
)

const (
	dirRead  = 0
	dirWrite = 1
	fdClosed = uint32(1) << 31
)

// NewFD puts fd in non-blocking mode and registers it with the reactor. The
// FD owns fd from then on: Close closes it. On error the caller still owns fd.
func NewFD(fd int) (*FD, error) {
	r, err := getReactor()
	if err != nil {
		return nil, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("setnonblock", err)
	}
	f := &FD{fd: int32(fd)}
	if err := r.register(f); err != nil {
		return nil, err
	}
	return f, nil
}

// Fd returns the descriptor, for syscalls the FD does not wrap. Do not close
// it; use Close.
func (f *FD) Fd() int { return int(f.fd) }

// register gives f a slot and adds its fd to the poller, edge-triggered
// for both directions, once for its lifetime.
func (r *reactor) register(f *FD) error {
	key := r.insert(f)
	if err := r.p.Add(int(f.fd), key); err != nil {
		r.release(f)
		return err
	}
	r.startFallback()
	return nil
}

// release frees f's slot; its generation changes, so events still carrying
// f's key are ignored.
func (r *reactor) release(f *FD) {
	r.smu.Lock()
	c := r.chunks[f.idx>>chunkBits]
	c.fds[f.idx&chunkMask] = nil
	c.gens[f.idx&chunkMask]++
	r.free = append(r.free, f.idx)
	r.smu.Unlock()
	// The last descriptor gone, the fallback has nothing to do: let it
	// see that, whether it sleeps or holds the poller.
	if r.nfds.Add(-1) == 0 {
		r.kickFallback()
		if r.fbHold.Load() {
			_ = r.p.Notify()
		}
	}
}

// ready records readiness and collects the waiters it satisfies.
func (f *FD) ready(ev poller.Event, ws []Waker) []Waker {
	f.mu.Lock()
	if ev.Hangup || ev.Err {
		// Set before the counts move, so a reader that sees the new count
		// sees the flag too.
		f.flags.Or(fdHup)
	}
	for d, on := range [2]bool{ev.Readable, ev.Writable} {
		if on {
			f.seq[d].Add(1)
			ws = f.takeWakers(d, ws)
		}
	}
	f.mu.Unlock()
	return ws
}

// takeWakers moves direction d's waiters to ws; f.mu is held. The inline
// waker is let go once it waits in no direction.
func (f *FD) takeWakers(d int, ws []Waker) []Waker {
	if f.wdirs&(1<<d) != 0 {
		ws = append(ws, f.waker)
		if f.wdirs &^= 1 << d; f.wdirs == 0 {
			f.waker = nil
		}
	}
	if f.extra != nil && len(f.extra[d]) > 0 {
		ws = append(ws, f.extra[d]...)
		clear(f.extra[d])
		f.extra[d] = f.extra[d][:0]
	}
	return ws
}

// wait registers cx's waker for direction d unless readiness arrived after
// seq (retry) or the FD was closed (closed).
func (f *FD) wait(cx *Context, d int, seq uint32) (retry, closed bool) {
	w := cx.Waker()
	f.mu.Lock()
	// ready counts under mu, so either it ran before this check (and the
	// count moved) or it runs after and finds the waker. Close sets its bit
	// before it takes mu to collect the wakers, so a waker stored here is
	// either collected by Close or this check sees the bit.
	if f.refs.Load()&fdClosed != 0 {
		f.mu.Unlock()
		return false, true
	}
	if f.seq[d].Load() != seq {
		f.mu.Unlock()
		return true, false
	}
	switch {
	case f.waker == nil || f.waker == w:
		f.waker = w
		f.wdirs |= 1 << d
	default:
		if f.extra == nil {
			f.extra = new([2][]Waker)
		}
		if !slices.Contains(f.extra[d], w) {
			f.extra[d] = append(f.extra[d], w)
		}
	}
	f.mu.Unlock()
	return false, false
}

func (f *FD) incref() error {
	if f.refs.Add(1)&fdClosed != 0 {
		f.decref()
		return os.ErrClosed
	}
	return nil
}

func (f *FD) decref() {
	if f.refs.Add(^uint32(0)) == fdClosed {
		f.destroy()
	}
}

// destroy deregisters and closes the descriptor, once, after Close and the
// last operation in flight: the fd number is never reused while a syscall
// of this FD may still use it.
func (f *FD) destroy() error {
	if f.flags.Or(fdFreed)&fdFreed != 0 {
		return nil
	}
	r := theReactor.Load() // it exists: it registered f
	err := r.p.Delete(int(f.fd))
	r.release(f)
	if cerr := unix.Close(int(f.fd)); cerr != nil {
		return os.NewSyscallError("close", cerr)
	}
	return err
}

// Close wakes the FD's waiters, whose next operation fails with
// os.ErrClosed, and closes the descriptor once no operation is in flight. It
// returns os.ErrClosed if the FD was already closed.
func (f *FD) Close() error {
	old := f.refs.Or(fdClosed)
	if old&fdClosed != 0 {
		return os.ErrClosed
	}
	f.mu.Lock()
	ws := f.takeWakers(dirWrite, f.takeWakers(dirRead, nil))
	f.mu.Unlock()
	for _, w := range ws {
		w.Wake()
	}
	if old == 0 {
		return f.destroy()
	}
	return nil
}

// pollIO runs op on the descriptor in direction d (0 read, 1 write) until it
// returns something other than EAGAIN or EINTR; on EAGAIN it arranges a wake
// for the next readiness and reports pending. want > 0 applies the
// short-read rule to a read of want bytes.
func (f *FD) pollIO(cx *Context, d int, want int, op func(fd int) (int, error)) (int, bool, error) {
	if !cx.Proceed() {
		return 0, false, nil
	}
	if err := f.incref(); err != nil {
		return 0, true, err
	}
	defer f.decref()
	for {
		seq := f.seq[d].Load()
		var err error = unix.EAGAIN
		n := 0
		// A short read at this very readiness count emptied the buffer:
		// wait for the next readiness instead of a read that fails.
		// (seq+1 wraps to 0, which means "none", once in 2^32 edges.)
		if want == 0 || seq+1 == 0 || f.drained.Load() != seq+1 || f.flags.Load()&fdHup != 0 {
			n, err = op(int(f.fd))
		}
		switch err {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			retry, closed := f.wait(cx, d, seq)
			if retry {
				continue
			}
			if closed {
				return 0, true, os.ErrClosed
			}
			cx.WaitingOn(f, WaitRead+WaitOp(d))
			return 0, false, nil
		}
		if want > 0 && err == nil && n > 0 && n < want {
			f.drained.Store(seq + 1)
		}
		cx.spendBytes(n)
		return n, true, err
	}
}

// SetStream declares that the descriptor is a byte stream (a stream
// socket or a pipe), on which a read that returns fewer bytes than asked
// for has emptied the kernel buffer. PollRead then waits for the next
// readiness instead of issuing a read that would only fail with EAGAIN,
// which saves a system call per message on a request-response connection.
// Do not use it for datagram sockets or terminals, where a short read is
// normal with more data waiting. Call it before the FD is used.
func (f *FD) SetStream() { f.flags.Or(fdStream) }

// Control calls op with the descriptor while guaranteeing that it stays
// open: a concurrent Close defers the real close(2) until op returns, so op
// never touches a number that was closed and reused. It returns op's error,
// or os.ErrClosed if the FD is closed.
func (f *FD) Control(op func(fd int) error) error {
	if err := f.incref(); err != nil {
		return err
	}
	defer f.decref()
	return op(int(f.fd))
}

// PollRead reads into p. It is ready with the bytes read, or with an error
// (a syscall error from read(2), or os.ErrClosed); (0, true, nil) with a
// non-empty p is end of file. On Linux the read, like PollWrite's write,
// is a raw system call: the descriptor is non-blocking, so the Go
// scheduler need not be told.
func (f *FD) PollRead(cx *Context, p []byte) (n int, ok bool, err error) {
	want := 0
	if f.flags.Load()&fdStream != 0 {
		want = len(p)
	}
	n, ok, err = f.pollIO(cx, dirRead, want, func(fd int) (int, error) { return sysRead(fd, p) })
	return max(n, 0), ok, err
}

// PollWrite writes from p, as much as the kernel takes at once. It is
// pending while the kernel buffer is full, which is how a slow reader pushes
// back on its writer.
func (f *FD) PollWrite(cx *Context, p []byte) (n int, ok bool, err error) {
	n, ok, err = f.pollIO(cx, dirWrite, 0, func(fd int) (int, error) { return sysWrite(fd, p) })
	return max(n, 0), ok, err
}

// PollReadWith calls op with the descriptor until op returns an error other
// than EAGAIN (unix.EAGAIN) or EINTR, and arranges a wake for readability
// when it returns EAGAIN: use it for recvfrom, accept and the like.
func (f *FD) PollReadWith(cx *Context, op func(fd int) (int, error)) (int, bool, error) {
	return f.pollIO(cx, dirRead, 0, op)
}

// PollWriteWith is PollReadWith for writability: sendto, connect and the like.
func (f *FD) PollWriteWith(cx *Context, op func(fd int) (int, error)) (int, bool, error) {
	return f.pollIO(cx, dirWrite, 0, op)
}

// PollReadable is ready when the descriptor is readable (or at end of file
// or in error), as poll(2) reports it.
func (f *FD) PollReadable(cx *Context) (ok bool, err error) {
	return f.pollReady(cx, dirRead, unix.POLLIN)
}

// PollWritable is ready when the descriptor is writable (or in error).
func (f *FD) PollWritable(cx *Context) (ok bool, err error) {
	return f.pollReady(cx, dirWrite, unix.POLLOUT)
}

func (f *FD) pollReady(cx *Context, d int, ev int16) (bool, error) {
	_, ok, err := f.pollIO(cx, d, 0, func(fd int) (int, error) {
		// The poller reports edges, not levels: ask the kernel for the level.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: ev}}
		if n, err := unix.Poll(pfd, 0); err != nil || n > 0 {
			return 0, err
		}
		return 0, unix.EAGAIN
	})
	return ok, err
}

type fdReady struct {
	f *FD
	d int
}

func (r fdReady) Poll(cx *Context) (struct{}, bool, error) {
	var ok bool
	var err error
	if r.d == dirRead {
		ok, err = r.f.PollReadable(cx)
	} else {
		ok, err = r.f.PollWritable(cx)
	}
	return struct{}{}, ok, err
}

// Readable returns a future that is ready once the descriptor is readable,
// or fails with the error of the check (os.ErrClosed once it is closed).
func (f *FD) Readable() Future[struct{}] { return fdReady{f, dirRead} }

// Writable returns a future that is ready once the descriptor is writable.
func (f *FD) Writable() Future[struct{}] { return fdReady{f, dirWrite} }

// String describes the FD for task dumps: "fd 7".
func (f *FD) String() string { return "fd " + strconv.Itoa(int(f.fd)) }
