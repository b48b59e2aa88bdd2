//go:build linux

package smolnet

// The completion path: TCP on an io_uring ring of the LocalExecutor.
//
// # When it applies
//
// With ListenConfig.IOURing (where io_uring is available; the readiness
// path otherwise) or SMOL_BACKEND=uring-completion (everywhere; an error
// where io_uring is unavailable), a TCPListener accepted from in a task
// (or Run's main future) of a [smol.LocalExecutor] gets a multishot accept
// on a ring that belongs to that executor, and the connections it accepts
// there read with a multishot receive into the ring's provided buffers and
// write with send requests. Everything else keeps the readiness path:
// dialed connections, Unix and UDP sockets, listeners accepted from
// BlockOn, an Executor or a goroutine (NetListener), and a listener
// already bound to another executor's ring. A connection on a ring must
// be read and written by tasks of that executor once one of them has:
// polled with any other context its reads and writes then fail with
// errForeignRing. One handed on before that (a connection accepted by
// one executor and served by another, a goroutine or BlockOn) leaves the
// ring at its first poll elsewhere and goes on on the readiness path (see
// uconn.leave). Close, the setters and String work from anywhere.
//
// # One ring per LocalExecutor, driven by its goroutine
//
// The ring is made on first use, inside a poll, so on the goroutine that
// drives the executor; that goroutine is locked to its OS thread
// (runtime.LockOSThread) from then on, because the ring is made with
// IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN: the kernel then runs the
// completion work of every request (the receive itself, once data has
// arrived) only inside that thread's own io_uring_enter, never as an
// interruption of a thread busy with other goroutines, which is what made
// the readiness backend on io_uring slower than epoll (BENCHMARKS.md). The
// lock is never undone (coroutine tasks made since must see it unchanged;
// see internal/coromark): the thread ends with the goroutine. Driving the
// executor later from another goroutine makes the ring fail (the kernel
// answers EEXIST to any other thread), and every operation on it then
// fails with that error. An executor that has run a coroutine task
// (package coro) before it would make its ring gets none: locking its
// goroutine would crash those coroutines at their next switch, so its
// listeners keep the readiness path.
//
// A task of the executor, the pump, is the only one that enters the
// kernel: one io_uring_enter per poll that submits every request the
// other tasks prepared since and runs the completion work queued for the
// thread, after which it reaps the completions and wakes the tasks they
// concern. Tasks that prepare a request wake the pump, which, being woken
// last, runs after them: one enter per round of the executor. When it has
// nothing to do the pump waits in the reactor (epoll) on an eventfd
// registered with the ring, which the kernel signals when it queues
// completion work; the pump keeps those signals off while it runs anyway
// (IORING_CQ_EVENTFD_DISABLED), so a busy ring costs no eventfd signal.
//
// # Ownership and locking
//
// Every field of cring, uconn and ulisten not said otherwise is touched
// only with cring.own held, which the executor's goroutine holds for the
// whole of each poll that uses the ring. It is never contended in steady
// state (one goroutine); it exists for the executor's Close, which may
// discard the pump from another goroutine while the driver is inside a
// poll. Close of a socket, its finalizer and its setters may come from any
// goroutine: Close only queues the socket (closeq, under mu) and wakes the
// pump, which does the rest.
//
// # Memory the kernel writes later
//
// The receive buffers are the BufRing's mmap memory. A send names bytes
// the caller may reuse as soon as PollWrite returns (the echo server
// reads every connection into one shared buffer), so PollWrite copies
// them into a buffer of the ring's send pool, Go heap memory that the
// ring keeps referenced until the send's final CQE. Go's collector does
// not move heap objects, and the pool's buffers never go back to it.

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/internal/coromark"
	"github.com/smolgo/smol/internal/uring"
	"golang.org/x/sys/unix"
)

// Sizes of a completion ring. The receive buffers are 2,048 of 4 KiB
// (8 MiB of address space, resident once touched); a connection holds at
// most connBufs of them with data its reader has not taken, so that a
// reader that never reads holds 16 KiB and not the ring: at that count its
// multishot receive is cancelled and re-armed when the reader catches up.
const (
	ringEntries = 1024
	recvBufSize = 4096
	connBufs    = 4
	acceptQueue = 128 // accepted connections queued per listener before its accept is paused
)

// recvBufs is the number of receive buffers of a new ring (a power of
// two); a variable so that tests can make a ring run dry.
var recvBufs = 2048

// Operation codes, the low byte of a request's user data; the slot index
// is above it.
const (
	opRecv uint64 = iota + 1
	opSend
	opAccept
	opCancel
)

// errForeignRing is the error of a read or write of a connection on a
// ring polled outside the ring's executor.
var errForeignRing = errors.New("smolnet: connection on a LocalExecutor's io_uring ring polled from outside that executor")

// errRingThread is the error of a ring whose executor was driven from a
// second goroutine (the kernel's EEXIST).
var errRingThread = errors.New("smolnet: io_uring ring used from a second thread: drive the LocalExecutor from one goroutine")

// errExecutorClosed is the error of operations on a ring whose executor
// was closed.
var errExecutorClosed = errors.New("smolnet: the connection's LocalExecutor was closed")

// completionChosen reports whether SMOL_BACKEND=uring-completion (read
// once), or a test forced the path on.
func completionChosen() bool { return forceCompletion.Load() || envCompletion() }

var envCompletion = sync.OnceValue(func() bool {
	c, err := uring.Chosen()
	return err == nil && c == uring.Completion
})

// forceCompletion turns the completion path on whatever SMOL_BACKEND says;
// tests set it.
var forceCompletion atomic.Bool

// epollChosen reports whether SMOL_BACKEND=epoll, which a listener's
// ListenConfig.IOURing gives way to. It reads the variable each time (an
// accept that asks for a ring makes system calls anyway), so that tests
// may set it.
func epollChosen() bool {
	c, err := uring.Chosen()
	return err == nil && c == uring.Epoll
}

// rings maps a LocalExecutor's driver to its ring. Both sides are weak:
// the ring is kept alive by its pump task, its sockets and nothing else,
// and a ring whose executor and sockets are garbage is closed by a
// cleanup (see newRing).
var (
	ringsMu sync.Mutex
	rings   = map[weak.Pointer[smol.Driver]]weak.Pointer[cring]{}
)

// ringAvailable is uring.Available, and makeRing newRing; tests replace
// them to act out a kernel that refuses io_uring or a ring.
var (
	ringAvailable = uring.Available
	makeRing      = newRing
)

// ringRefused is set once a ring asked for by ListenConfig.IOURing could
// not be made although io_uring is available (a kernel before 6.1 has no
// DEFER_TASKRUN, say): whatever refused it would refuse the next, so from
// then on such listeners keep the readiness path without trying again.
var ringRefused atomic.Bool

// ringFor returns the completion ring for a poll with cx, making it on
// first use, or nil if the completion path does not apply: neither asked
// (ListenConfig.IOURing) nor chosen (SMOL_BACKEND=uring-completion), or
// cx is not a LocalExecutor's. Asked, it gives way to SMOL_BACKEND=epoll
// and to a kernel that refuses io_uring or the ring (nil: the readiness
// path); chosen, it returns the reason, as SMOL_BACKEND=uring does.
func ringFor(cx *smol.Context, asked bool) (*cring, error) {
	chosen := completionChosen()
	if !chosen && (!asked || epollChosen() || ringRefused.Load() || ringAvailable() != nil) {
		return nil, nil
	}
	d := cx.Driver()
	if d == nil || d.LocalExecutor() == nil {
		return nil, nil
	}
	key := weak.Make(d)
	if coromark.Marked(d) {
		// Coroutine tasks on this executor: the goroutine lock the ring
		// needs would break them (see internal/coromark), unless the ring
		// came first.
		ringsMu.Lock()
		cr := rings[key].Value()
		ringsMu.Unlock()
		return cr, nil
	}
	ringsMu.Lock()
	defer ringsMu.Unlock()
	if cr := rings[key].Value(); cr != nil {
		return cr, nil
	}
	for k, v := range rings { // forget rings and drivers that are gone
		if k.Value() == nil || v.Value() == nil {
			delete(rings, k)
		}
	}
	if err := ringAvailable(); chosen && err != nil && !errors.Is(err, uring.ErrNotChosen) { // not chosen: forced by a test
		return nil, errors.Join(errors.New("smolnet: SMOL_BACKEND=uring-completion, but io_uring is unavailable"), err)
	}
	cr, err := makeRing(d)
	if err != nil && !chosen {
		ringRefused.Store(true)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	rings[key] = weak.Make(cr)
	return cr, nil
}

// cring is a LocalExecutor's completion ring (see the file comment).
type cring struct {
	own  sync.Mutex // held by every poll that uses the ring; see the file comment
	drv  weak.Pointer[smol.Driver]
	r    *uring.Ring
	bufs *uring.BufRing
	efd  *smol.FD // the eventfd registered with r, in the reactor
	tid  int      // the OS thread the ring is bound to, whose goroutine is locked to it
	dead error    // set once, under own and mu: the ring is closed and every operation fails with it

	// The connections' slots, by index (a request's user data names
	// one), in chunks of slotChunk that are never copied, so that a
	// growing table leaves no garbage behind; free lists the indexes
	// let go. Listeners, a few, have their own table.
	slots [][]cslot
	nslot uint32
	free  []uint32
	lsns  []*ulisten // listeners by index, nil where free

	// extra holds waiters beyond a connection's inline one (a second
	// task waiting, such as a writer beside a reader); rare.
	extra map[*uconn]*[2][]smol.Waker

	// The receive FIFOs: a connection's received buffers are a list
	// linked through next, by buffer ID, with the bytes of each in blen.
	next  []uint16
	blen  []uint32
	nfree int // buffers in the kernel's ring
	nbufs int // buffers in all

	// stats counts, for tests: enters, CQEs reaped, receives that ran
	// dry (ENOBUFS) and receives capped at connBufs.
	stats struct{ enters, cqes, noBufs, capped uint64 }

	starved []*uconn      // connections whose receive ended with ENOBUFS
	retry   []*uconn      // connections that found the SQ full
	kicked  bool          // the pump is woken and has not run since
	sqFull  bool          // tests: sqe acts as if the kernel refused to drain a full SQ
	sendBuf [3][]*sendBuf // the send pool, by size class
	cqes    [256]uring.CQE

	// ctl orders a connection's control calls (its setters, from any
	// goroutine) against the pump's close(2) of its fd; see control.
	ctl sync.Mutex

	// mu guards closeq and waker, which other goroutines use.
	mu     sync.Mutex
	closeq []closer
	waker  smol.Waker // the pump's; nil until its first poll
}

// cslot is what a connection's slot holds: the connection, and its send
// in flight (nil if none; see uconn).
type cslot struct {
	c   *uconn
	snd *sendBuf
}

// slotChunk is the number of slots in a chunk of cring.slots.
const slotChunk = 1024

// closer is a socket queued for the pump to close.
type closer struct {
	c *uconn
	l *ulisten
}

// newRing makes the ring of the LocalExecutor whose driver is d, on the
// calling goroutine (the executor's), and spawns its pump on it.
func newRing(d *smol.Driver) (cr *cring, err error) {
	// SINGLE_ISSUER binds the ring to the thread that makes it.
	runtime.LockOSThread()
	defer func() {
		if err != nil {
			runtime.UnlockOSThread()
		}
	}()
	r, err := uring.New(uring.Options{Entries: ringEntries, SingleIssuer: true, NoWake: true})
	if err != nil {
		return nil, err
	}
	if !r.DeferTaskrun() {
		r.Close()
		return nil, errors.New("smolnet: io_uring without IORING_SETUP_DEFER_TASKRUN (Linux 6.1+)")
	}
	bufs, err := r.NewBufRing(0, recvBufs, recvBufSize)
	if err != nil {
		r.Close()
		return nil, err
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		r.Close()
		return nil, os.NewSyscallError("eventfd", err)
	}
	if err := r.RegisterEventfd(efd); err != nil {
		unix.Close(efd)
		r.Close()
		return nil, err
	}
	r.SetEventfdSignals(false)
	fd, err := smol.NewFD(efd)
	if err != nil {
		unix.Close(efd)
		r.Close()
		return nil, err
	}
	cr = &cring{
		drv: weak.Make(d), r: r, bufs: bufs, efd: fd, tid: unix.Gettid(),
		next: make([]uint16, recvBufs), blen: make([]uint32, recvBufs), nfree: recvBufs, nbufs: recvBufs,
	}
	// A ring whose executor and sockets all became garbage without the
	// executor being closed: close the kernel side. No enter can be
	// running (nothing reaches the ring any more), so unmapping the
	// buffers is safe; see uring.Ring.Close.
	runtime.AddCleanup(cr, func(x ringRes) { x.r.Close(); x.efd.Close() }, ringRes{r, fd})
	smol.SpawnOn(d.LocalExecutor(), &pump{cr}).Detach()
	return cr, nil
}

// ringRes is what the cleanup of a lost ring closes.
type ringRes struct {
	r   *uring.Ring
	efd *smol.FD
}

// ud is the user data of op on slot.
func ud(slot uint32, op uint64) uint64 { return uint64(slot)<<8 | op }

// enter claims the ring for a poll with cx: it takes own and checks that
// cx belongs to the ring's executor and that the ring is alive. On error
// own is not held.
func (cr *cring) enter(cx *smol.Context) error {
	if cr.drv.Value() != cx.Driver() {
		return errForeignRing
	}
	cr.own.Lock()
	if cr.dead != nil {
		cr.own.Unlock()
		return cr.dead
	}
	return nil
}

// kick makes sure the pump runs after the current task: it has requests
// to submit. own is held.
func (cr *cring) kick() {
	if !cr.kicked && cr.waker != nil {
		cr.kicked = true
		cr.waker.Wake()
	}
	// A nil waker: the pump was just spawned and has not run yet; it will.
}

// alloc takes a slot for c.
func (cr *cring) alloc(c *uconn) uint32 {
	i := cr.nslot
	if n := len(cr.free); n > 0 {
		i = cr.free[n-1]
		cr.free = cr.free[:n-1]
	} else {
		if i%slotChunk == 0 {
			cr.slots = append(cr.slots, make([]cslot, slotChunk))
		}
		cr.nslot++
	}
	*cr.slot(i) = cslot{c: c}
	return i
}

// slot returns slot i (i < nslot).
func (cr *cring) slot(i uint32) *cslot { return &cr.slots[i/slotChunk][i%slotChunk] }

// allocListener takes a listener's slot for l.
func (cr *cring) allocListener(l *ulisten) uint32 {
	for i, x := range cr.lsns {
		if x == nil {
			cr.lsns[i] = l
			return uint32(i)
		}
	}
	cr.lsns = append(cr.lsns, l)
	return uint32(len(cr.lsns) - 1)
}

// sqe returns a free SQE, or nil if the SQ is full and the kernel refused
// to take it now (EBUSY: completions must be reaped first).
func (cr *cring) sqe() *uring.SQE {
	if cr.sqFull {
		return nil
	}
	s, err := cr.r.GetSQE()
	if err != nil {
		return nil
	}
	return s
}

// getSendBuf returns a send buffer of at least n bytes (n <= maxSend)
// from the pool; putSendBuf returns it.
func (cr *cring) getSendBuf(n int) *sendBuf {
	k := sendClass(n)
	if l := len(cr.sendBuf[k]); l > 0 {
		b := cr.sendBuf[k][l-1]
		cr.sendBuf[k] = cr.sendBuf[k][:l-1]
		return b
	}
	return &sendBuf{b: make([]byte, 256<<(4*k))}
}

func (cr *cring) putSendBuf(b *sendBuf) {
	k := sendClass(len(b.b))
	cr.sendBuf[k] = append(cr.sendBuf[k], b)
}

// sendClass is the size class of an n-byte send: 256 B, 4 KiB, 64 KiB.
func sendClass(n int) int {
	switch {
	case n <= 256:
		return 0
	case n <= 4096:
		return 1
	}
	return 2
}

// maxSend is the most one PollWrite takes.
const maxSend = 64 << 10

// pump is the task that drives the ring: see the file comment.
type pump struct{ cr *cring }

// Poll is one round of the ring:
//
//  1. take the sockets queued for closing and prepare their cancels;
//     re-arm starved receives if buffers came back;
//  2. one io_uring_enter: submit what the tasks prepared, run the queued
//     completion work (the receives), and reap, waking the tasks;
//  3. if anything is left to do (work queued since, SQEs prepared while
//     reaping, a full CQ), wake itself to run again after those tasks;
//     otherwise turn the eventfd's signals on, look once more, and wait
//     in the reactor for the eventfd.
func (p *pump) Poll(cx *smol.Context) (struct{}, bool, error) {
	cr := p.cr
	cr.own.Lock()
	defer cr.own.Unlock()
	if cr.dead != nil {
		return struct{}{}, true, nil
	}
	if cr.waker == nil {
		cr.mu.Lock()
		cr.waker = cx.Waker()
		cr.mu.Unlock()
	}
	cr.kicked = false
	// Signals off while we run: work queued from now on is seen by the
	// enter below or by the check before we wait.
	cr.r.SetEventfdSignals(false)

	cr.mu.Lock()
	q := cr.closeq
	cr.closeq = nil
	cr.mu.Unlock()
	for _, c := range q {
		if c.c != nil {
			cr.shutConn(c.c)
		} else {
			cr.shutListener(c.l)
		}
	}
	cr.rearmStarved()
	for _, c := range cr.retry {
		c.wake(dirRead)
		c.wake(dirWrite)
	}
	cr.retry = cr.retry[:0]

	cr.stats.enters++
	if _, err := cr.r.SubmitAndWait(0); err != nil {
		switch {
		case errors.Is(err, unix.EBUSY), errors.Is(err, unix.EAGAIN):
			// The kernel wants completions reaped first: reap, go again.
		case errors.Is(err, unix.EEXIST):
			cr.shutdown(errRingThread)
			return struct{}{}, true, nil
		default:
			cr.shutdown(err)
			return struct{}{}, true, nil
		}
	}
	for {
		n := cr.r.Reap(cr.cqes[:])
		if n == 0 {
			break
		}
		cr.stats.cqes += uint64(n)
		for i := range cr.cqes[:n] {
			cr.complete(&cr.cqes[i])
		}
	}

	if cr.r.Pending() > 0 || cr.r.HasWork() || len(cr.retry) > 0 || len(cr.starved) > 0 && cr.nfree > 0 {
		cr.kick()
		return struct{}{}, false, nil
	}
	// Idle: signals on, then look again. The kernel queues work, then sets
	// IORING_SQ_TASKRUN, then reads the disabled flag before it signals;
	// we clear the flag, then read IORING_SQ_TASKRUN (in HasWork). All
	// four are sequentially consistent (Go's atomics; the kernel's
	// cmpxchg and locked OR on x86), so one side sees the other: either
	// the kernel signals the eventfd or we see its work here. The eventfd
	// is never read: in the reactor it is edge-triggered, and each signal
	// is an edge.
	cr.r.SetEventfdSignals(true)
	_, ok, err := cr.efd.PollReadWith(cx, func(int) (int, error) {
		if cr.r.HasWork() {
			return 1, nil
		}
		return 0, unix.EAGAIN
	})
	if ok && err == nil {
		cr.kick()
	}
	cx.WaitingOn(p, 0) // "waiting on smolnet io_uring pump" in dumps, not a read
	return struct{}{}, false, nil
}

// Discard is called when the executor is closed (or the pump canceled):
// the ring goes with it.
func (p *pump) Discard() {
	p.cr.own.Lock()
	defer p.cr.own.Unlock()
	p.cr.shutdown(errExecutorClosed)
}

// String names the pump in task dumps.
func (p *pump) String() string { return "smolnet io_uring pump" }

// shutdown closes the ring for good: requests are cancelled, sockets
// already closed by their owners are closed for real, and every waiting
// task is woken to find err. own is held.
func (cr *cring) shutdown(err error) {
	if cr.dead != nil {
		return
	}
	cr.mu.Lock()
	cr.dead = err
	cr.mu.Unlock()
	cr.r.Close()
	cr.efd.Close()
	for i := range cr.nslot {
		if c := cr.slot(i).c; c != nil {
			c.fifoFree()
			c.wake(dirRead)
			c.wake(dirWrite)
			if c.isClosed() {
				c.closeFd()
			}
		}
	}
	for _, l := range cr.lsns {
		if l != nil {
			// The accept is gone with the ring; the dup is of no more use.
			l.drop()
			l.wake()
			l.closeDup()
		}
	}
	cr.slots, cr.nslot, cr.free, cr.lsns, cr.extra = nil, 0, nil, nil, nil
	cr.mu.Lock()
	q := cr.closeq
	cr.closeq = nil
	cr.mu.Unlock()
	for _, c := range q {
		if c.c != nil {
			c.c.closeFd()
		} else {
			c.l.drop()
			c.l.closeDup()
		}
	}
	// The goroutine stays locked to its thread: coroutine tasks made
	// since the lock must see the same locking until they are unwound,
	// which the executor's Close may do after this (see coromark). The
	// thread ends with the goroutine.
}

// complete handles one CQE. own is held.
func (cr *cring) complete(cqe *uring.CQE) {
	slot, op := uint32(cqe.UserData>>8), cqe.UserData&0xff
	switch op {
	case opRecv, opSend:
		if slot >= cr.nslot {
			return
		}
		switch c := cr.slot(slot).c; {
		case c == nil:
		case op == opRecv:
			cr.recvDone(c, cqe)
		default:
			cr.sendDone(c, cqe)
		}
	case opAccept:
		if int(slot) < len(cr.lsns) && cr.lsns[slot] != nil {
			cr.acceptDone(cr.lsns[slot], cqe)
		}
	}
}

// uconn is a TCP connection on a completion ring.
//
// Its receive, a multishot request, goes through these states:
//
//	idle        not armed: at start, after its final CQE, after Close
//	armed       cRecvArmed: the kernel fills buffers as data comes, one CQE each
//	capped      cRecvArmed|cRecvCapped: the FIFO reached connBufs buffers, a
//	            cancel is on its way; the final CQE (-ECANCELED) makes it idle
//	starved     cStarved: it ended with ENOBUFS (the ring had no buffer);
//	            the pump re-arms it when buffers come back
//
// arm (from PollRead, from a final CQE, from the pump) moves idle to
// armed when the connection is open, has no error or EOF recorded and
// holds fewer than connBufs buffers. A final CQE with data or without
// error re-arms at once; res 0 records io.EOF (cEOF), an error records it
// (rerr).
//
// Its send: none or one in flight (its slot's snd != nil), never two, so
// the kernel cannot reorder them. PollWrite is pending while one is in
// flight; a partial send is resubmitted for the rest; an error is kept
// for the next PollWrite (werr).
//
// Close (any goroutine) sets closed and queues the connection; the pump
// (shutConn) wakes its waiters and cancels its requests by fd, after any
// send already prepared, which the kernel tries first, so a write followed
// by Close is sent when the socket has room, as with write(2). Once
// neither request is in flight the pump closes the fd (finish).
//
// An idle connection is this 80-byte record and its 48-byte TCPConn, so
// what is not needed while idle lives elsewhere: the send in flight in the
// slot, waiters beyond the first in cring.extra, and the lock of control
// on the ring (cring.ctl).
type uconn struct {
	laddr tcpEndpoint // first: the TCPConn's laddr points here (see conn.ring)
	cr    *cring
	w     smol.Waker // the inline waiter, waiting in the directions of st's cWait bits
	fd    int32
	slot  uint32
	// state goes once from 0 to uClosed (Close, from any goroutine) or to
	// uMoved (leave), by CAS, so that exactly one of the two owns the
	// socket's end. Close sets it before it queues c under cring.mu; the
	// pump learns of the Close from the queue (mu orders it), so the
	// state needs no ordering of its own beyond the CAS: the loads in
	// pollRead, pollWrite and control only make operations after Close
	// fail at once, and a load that misses a concurrent Close sees an
	// operation that raced with it, which Close's own queueing ends.
	state      atomic.Uint32
	off        uint16 // bytes of the FIFO's head buffer already read (recvBufSize fits)
	n          uint16 // the FIFO: n buffers, head first, linked by cring.next
	head, tail uint16
	rerr, werr uint8 // the receive's errno (after the FIFO) and the send's (for the next PollWrite); Linux's errnos are below 256
	st         uint8 // cRecvArmed, cRecvCapped, cStarved, cShut, cEOF, cWaitRead, cWaitWrite
	fdClosed   bool  // the pump closed fd; under cring.ctl (see control)
}

// uconn states (st bits); see uconn. cWaitRead and cWaitWrite (1 << 5 + d
// for direction d) say in which directions the inline waker waits; cUsed
// that a task of the executor has read or written c (see leave).
const (
	cRecvArmed uint8 = 1 << iota
	cRecvCapped
	cStarved
	cShut
	cEOF
	cWaitRead
	cWaitWrite
	cUsed
)

// Values of uconn.state.
const (
	uClosed uint32 = 1 + iota // Close was called
	uMoved                    // leave moved the connection to the readiness path
)

// errMoved is what a ring connection's methods return once it has moved
// to the readiness path: the caller goes on with the FD (conn.left).
var errMoved = errors.New("smolnet: connection moved off its ring")

// sendBuf is a send in flight: b[:n] is sent, done bytes of it so far.
// The ring's pool keeps every sendBuf it ever made (Go heap memory, which
// the collector does not move).
type sendBuf struct {
	b       []byte
	n, done int
}

func (c *uconn) has(f uint8) bool { return c.st&f != 0 }

func (c *uconn) set(f uint8, on bool) {
	if on {
		c.st |= f
	} else {
		c.st &^= f
	}
}

// readErr is what a read of an empty FIFO reports: io.EOF, the
// receive's error, or nil if more may come.
func (c *uconn) readErr() error {
	switch {
	case c.rerr != 0:
		return unix.Errno(c.rerr)
	case c.has(cEOF):
		return io.EOF
	}
	return nil
}

// newConn puts the accepted socket s on the ring. Its receive is armed by
// its first read, so that a connection handed elsewhere before any can
// still leave the ring (see leave). own is held.
func (cr *cring) newConn(s int) *uconn {
	c := &uconn{cr: cr, fd: int32(s)}
	c.slot = cr.alloc(c)
	return c
}

// leave moves c to the readiness path if no task of its executor has read
// or written it: c was accepted on the ring and handed, before its first
// read or write, to a goroutine, BlockOn or another executor (the usual
// way to spread connections over executors), which polled it. It returns
// the FD the connection uses from now on, stored in dst (the conn's fd),
// or nil and the reason if c stays on the ring. The steps:
//
//  1. own is taken, so that the executor's tasks cannot start using c
//     meanwhile; a c already used stays where it is;
//  2. a dup of the socket goes into the reactor as an FD, stored in dst:
//     from then on the conn's operations find it (conn.ring returns nil);
//  3. the state's CAS from 0 to uMoved decides against Close's CAS from 0
//     to uClosed: if Close came first, the FD is closed too (the
//     connection is closed, whichever path its next operation takes) and
//     the pump closes the socket as for any closed connection;
//  4. otherwise c's slot is freed and the original descriptor closed:
//     nothing of c is on the ring, since it never armed a receive or sent.
//
// A ring already shut down (its executor closed) can still let an unused
// connection go: shutdown closes only the sockets Close was called on.
func (c *uconn) leave(dst *atomic.Pointer[smol.FD]) (*smol.FD, error) {
	cr := c.cr
	cr.own.Lock()
	defer cr.own.Unlock()
	if fd := dst.Load(); fd != nil {
		return fd, nil
	}
	if err := c.stateErr(); err != nil {
		return nil, err // closed (a move would have stored dst)
	}
	if c.has(cUsed) {
		return nil, cr.dead // nil while the ring lives: the caller's errForeignRing stands
	}
	d, err := unix.FcntlInt(uintptr(c.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	fd, err := smol.NewFD(d)
	if err != nil {
		unix.Close(d)
		return nil, err
	}
	fd.SetStream()
	dst.Store(fd)
	if !c.state.CompareAndSwap(0, uMoved) {
		fd.Close()
		return fd, nil
	}
	if cr.dead == nil {
		*cr.slot(c.slot) = cslot{}
		cr.free = append(cr.free, c.slot)
	}
	c.slot = ^uint32(0)
	c.closeFd()
	return fd, nil
}

// stateErr is the error of an operation on c after Close or leave.
func (c *uconn) stateErr() error {
	switch c.state.Load() {
	case 0:
		return nil
	case uMoved:
		return errMoved
	}
	return os.ErrClosed
}

// arm arms c's receive if it should be; see uconn.
func (cr *cring) arm(c *uconn) {
	if c.has(cRecvArmed|cShut|cEOF) || c.rerr != 0 || c.n >= connBufs {
		return
	}
	if c.has(cStarved) {
		if cr.nfree == 0 {
			return
		}
		c.set(cStarved, false)
	}
	sqe := cr.sqe()
	if sqe == nil {
		cr.retry = append(cr.retry, c)
		return
	}
	uring.PrepRecvMultishot(sqe, int(c.fd), cr.bufs.Group(), ud(c.slot, opRecv))
	c.set(cRecvArmed, true)
	cr.kick()
}

// rearmStarved re-arms starved receives, oldest first, as many as half
// the free buffers and at least one if any is free: each takes a buffer
// as soon as it is armed if its data is waiting, and re-arming more than
// there are buffers would only starve them again.
func (cr *cring) rearmStarved() {
	k := 0
	for k < len(cr.starved) && cr.nfree > 0 && (k == 0 || k < cr.nfree/2) {
		cr.arm(cr.starved[k])
		k++
	}
	cr.starved = cr.starved[:copy(cr.starved, cr.starved[k:])]
}

// recvDone handles a CQE of c's receive.
func (cr *cring) recvDone(c *uconn, cqe *uring.CQE) {
	more, shut := cqe.More(), c.has(cShut)
	if id, ok := cqe.BufferID(); ok {
		cr.nfree--
		if cqe.Res > 0 && !shut {
			cr.blen[id] = uint32(cqe.Res)
			if c.n == 0 {
				c.head = id
			} else {
				cr.next[c.tail] = id
			}
			c.tail = id
			c.n++
		} else {
			cr.recycle(id)
			cr.bufs.Publish()
		}
	}
	switch res := cqe.Res; {
	case res > 0:
		if more && c.n >= connBufs && !c.has(cRecvCapped) {
			// Enough unread: stop taking buffers until the reader catches up.
			if sqe := cr.sqe(); sqe != nil {
				uring.PrepCancel(sqe, ud(c.slot, opRecv), false, ud(c.slot, opCancel))
				sqe.Flags |= uring.SQECQESkipSuccess
				c.set(cRecvCapped, true)
				cr.stats.capped++
				cr.kick()
			}
		}
	case res == 0:
		c.set(cEOF, true)
	case res == -int32(unix.ENOBUFS):
		cr.stats.noBufs++
		if !shut {
			c.set(cStarved, true)
			cr.starved = append(cr.starved, c)
		}
	case res == -int32(unix.ECANCELED):
	default:
		if c.rerr == 0 {
			c.rerr = uint8(-res)
		}
	}
	c.wake(dirRead)
	if !more {
		c.set(cRecvArmed|cRecvCapped, false)
		if shut {
			cr.finish(c)
		} else {
			cr.arm(c)
		}
	}
}

// recycle gives buffer id back to the kernel (published by the caller).
func (cr *cring) recycle(id uint16) {
	cr.bufs.Add(id)
	cr.nfree++
}

// sendDone handles the CQE of c's send.
func (cr *cring) sendDone(c *uconn, cqe *uring.CQE) {
	sl := cr.slot(c.slot)
	sb := sl.snd
	if sb == nil {
		return
	}
	if cqe.Res > 0 {
		sb.done += int(cqe.Res)
		if sb.done < sb.n && !c.has(cShut) {
			// Short (a signal, or MSG_WAITALL gave up): send the rest.
			if sqe := cr.sqe(); sqe != nil {
				uring.PrepSend(sqe, int(c.fd), sb.b[sb.done:sb.n], unix.MSG_NOSIGNAL|unix.MSG_WAITALL, ud(c.slot, opSend))
				cr.kick()
				return
			}
			c.werr = uint8(unix.ENOBUFS)
		}
	} else if cqe.Res < 0 && cqe.Res != -int32(unix.ECANCELED) && c.werr == 0 {
		c.werr = uint8(-cqe.Res)
	}
	cr.putSendBuf(sb)
	sl.snd = nil
	c.wake(dirWrite)
	if c.has(cShut) {
		cr.finish(c)
	}
}

// shutConn starts closing c, which Close queued: wake its tasks and
// cancel its requests. own is held.
func (cr *cring) shutConn(c *uconn) {
	if c.slot == ^uint32(0) {
		// A Close requeued for want of an SQE, whose connection's last
		// request ended meanwhile: finish has closed it already.
		return
	}
	c.set(cShut, true)
	c.wake(dirRead)
	c.wake(dirWrite)
	c.fifoFree()
	if !c.has(cRecvArmed) && cr.slot(c.slot).snd == nil {
		cr.finish(c)
		return
	}
	sqe := cr.sqe()
	if sqe == nil {
		cr.requeueClose(closer{c: c})
		return
	}
	uring.PrepCancelFd(sqe, int(c.fd), ud(c.slot, opCancel))
	sqe.Flags |= uring.SQECQESkipSuccess
	cr.kick()
}

// finish closes c's fd once Close was called and no request of c is in
// flight; the slot is free again.
func (cr *cring) finish(c *uconn) {
	if !c.has(cShut) || c.has(cRecvArmed) || c.slot == ^uint32(0) || cr.slot(c.slot).snd != nil {
		return
	}
	c.fifoFree()
	c.closeFd()
	*cr.slot(c.slot) = cslot{}
	cr.free = append(cr.free, c.slot)
	c.slot = ^uint32(0)
}

// fifoFree recycles the buffers c holds.
func (c *uconn) fifoFree() {
	cr := c.cr
	if c.n == 0 {
		return
	}
	for ; c.n > 0; c.n-- {
		id := c.head
		c.head = cr.next[id]
		if cr.dead == nil {
			cr.recycle(id)
		}
	}
	if cr.dead == nil {
		cr.bufs.Publish()
	}
	c.off = 0
}

// closeFd closes the fd, under the ring's ctl so that no control call is
// using it.
func (c *uconn) closeFd() {
	c.cr.ctl.Lock()
	if !c.fdClosed {
		c.fdClosed = true
		unix.Close(int(c.fd))
	}
	c.cr.ctl.Unlock()
}

// Directions of a connection's waiters.
const (
	dirRead  = 0
	dirWrite = 1
)

// wait registers w to be woken in direction d. The common case, one task
// waiting in either or both directions, is inline; other tasks go to the
// ring's extra table. own is held.
func (c *uconn) wait(d int, w smol.Waker) {
	if c.w == nil || c.w == w {
		c.w = w
		c.st |= cWaitRead << d
		return
	}
	cr := c.cr
	x := cr.extra[c]
	if x == nil {
		if cr.extra == nil {
			cr.extra = map[*uconn]*[2][]smol.Waker{}
		}
		x = new([2][]smol.Waker)
		cr.extra[c] = x
	}
	if !slices.Contains(x[d], w) {
		x[d] = append(x[d], w)
	}
}

// wake wakes the waiters in direction d. The inline waker is let go once
// it waits in no direction, and an entry of the extra table once it holds
// no waiter. own is held.
func (c *uconn) wake(d int) {
	if bit := cWaitRead << d; c.st&bit != 0 {
		w := c.w
		if c.st &^= bit; c.st&(cWaitRead|cWaitWrite) == 0 {
			c.w = nil
		}
		w.Wake()
	}
	if len(c.cr.extra) == 0 {
		return
	}
	if x := c.cr.extra[c]; x != nil {
		for _, w := range x[d] {
			w.Wake()
		}
		clear(x[d])
		x[d] = x[d][:0]
		if len(x[0]) == 0 && len(x[1]) == 0 {
			delete(c.cr.extra, c)
		}
	}
}

// pollRead is conn.PollRead on the ring: the bytes of the FIFO's buffers,
// in order, as many as fit in p (len(p) > 0); buffers emptied go back to
// the kernel, and the part of one left over stays for the next read.
func (c *uconn) pollRead(cx *smol.Context, p []byte) (int, bool, error) {
	if err := c.stateErr(); err != nil {
		return 0, true, err
	}
	cr := c.cr
	if err := cr.enter(cx); err != nil {
		return 0, true, err
	}
	defer cr.own.Unlock()
	if err := c.stateErr(); err != nil { // moved while we waited for own
		return 0, true, err
	}
	c.set(cUsed, true)
	if !cx.Proceed() {
		return 0, false, nil
	}
	if c.n == 0 {
		if err := c.readErr(); err == io.EOF {
			return 0, true, nil
		} else if err != nil {
			return 0, true, err
		}
		cr.arm(c)
		c.wait(dirRead, cx.Waker())
		return 0, false, nil
	}
	n, recycled := 0, false
	for c.n > 0 && n < len(p) {
		id := c.head
		b := cr.bufs.Bytes(id, int(cr.blen[id]))
		k := copy(p[n:], b[c.off:])
		n += k
		c.off += uint16(k)
		if int(c.off) == len(b) {
			c.head, c.off = cr.next[id], 0
			c.n--
			cr.recycle(id)
			recycled = true
		}
	}
	if recycled {
		cr.bufs.Publish()
		if len(cr.starved) > 0 {
			cr.kick()
		}
	}
	cr.arm(c)
	return n, true, nil
}

// pollWrite is conn.PollWrite on the ring: it copies up to 64 KiB of p
// into a send buffer and submits it (len(p) > 0).
func (c *uconn) pollWrite(cx *smol.Context, p []byte) (int, bool, error) {
	if err := c.stateErr(); err != nil {
		return 0, true, err
	}
	cr := c.cr
	if err := cr.enter(cx); err != nil {
		return 0, true, err
	}
	defer cr.own.Unlock()
	if err := c.stateErr(); err != nil { // moved while we waited for own
		return 0, true, err
	}
	c.set(cUsed, true)
	if !cx.Proceed() {
		return 0, false, nil
	}
	if c.werr != 0 {
		return 0, true, unix.Errno(c.werr)
	}
	sl := cr.slot(c.slot)
	if sl.snd != nil {
		c.wait(dirWrite, cx.Waker())
		return 0, false, nil
	}
	sqe := cr.sqe()
	if sqe == nil {
		cr.retry = append(cr.retry, c)
		c.wait(dirWrite, cx.Waker())
		cr.kick()
		return 0, false, nil
	}
	n := min(len(p), maxSend)
	sb := cr.getSendBuf(n)
	sb.n, sb.done = copy(sb.b, p), 0
	sl.snd = sb
	uring.PrepSend(sqe, int(c.fd), sb.b[:n], unix.MSG_NOSIGNAL|unix.MSG_WAITALL, ud(c.slot, opSend))
	cr.kick()
	return n, true, nil
}

// close is Close from any goroutine. On the ring's own goroutine (the
// executor's, locked to the ring's thread: no other goroutine runs on that
// thread) it starts closing at once and submits, so that a write just
// before Close reaches the kernel even if the executor is not driven again
// (a server's main returning after its last Run); elsewhere it queues c
// for the pump.
func (c *uconn) close() error {
	if !c.state.CompareAndSwap(0, uClosed) {
		return c.stateErr()
	}
	cr := c.cr
	if unix.Gettid() == cr.tid {
		cr.own.Lock()
		if cr.dead == nil {
			cr.shutConn(c)
			if _, err := cr.r.Submit(); err == nil && !c.fdClosed {
				// The send before the cancel is done or cancelled; the
				// fd stays open until the pump sees the final CQEs, so
				// end the stream now, as close(2) would (the peer reads
				// EOF after the data even if the pump never runs again).
				unix.Shutdown(int(c.fd), unix.SHUT_WR)
			}
			cr.own.Unlock()
			return nil
		}
		cr.own.Unlock()
	}
	cr.mu.Lock()
	if cr.dead != nil {
		// The ring is gone, and its requests with it.
		cr.mu.Unlock()
		c.closeFd()
		return nil
	}
	cr.closeq = append(cr.closeq, closer{c: c})
	w := cr.waker
	cr.mu.Unlock()
	if w != nil {
		w.Wake()
	}
	return nil
}

// isClosed reports whether Close was called on c while on the ring.
func (c *uconn) isClosed() bool { return c.state.Load() == uClosed }

// control runs op on the fd, which stays open meanwhile (the ring's ctl);
// it fails with os.ErrClosed after Close, and with errMoved once the
// connection has left the ring.
func (c *uconn) control(op func(s int) error) error {
	if err := c.stateErr(); err != nil {
		return err
	}
	c.cr.ctl.Lock()
	defer c.cr.ctl.Unlock()
	if c.fdClosed {
		if err := c.stateErr(); err != nil {
			return err
		}
		return os.ErrClosed
	}
	return op(int(c.fd))
}

// ulisten is a listener's multishot accept on a ring. Its states mirror a
// receive's: idle, armed (armed), capped (armed and capped: acceptQueue
// connections are queued, a cancel is on its way), and shut after Close.
// PollAccept arms it when idle; a final CQE makes it idle again, and
// EMFILE and its kin end it and are handed to PollAccept, which backs off
// on the listener's timer before it re-arms.
type ulisten struct {
	cr *cring
	fd int // a dup of the listener's fd, the ring's own
	// dupFd is fd until closeDup closes it, then -1. closeDup runs on the
	// pump (finishListener, shutdown) or on a goroutine closing the
	// listener after the ring is gone; the swap makes exactly one of them
	// close the fd, and no ordering beyond that is needed.
	dupFd               atomic.Int32
	slot                uint32
	armed, capped, shut bool
	cancelled           bool    // shutListener has prepared the cancel of the accept
	q                   []int32 // accepted, not yet taken
	err                 error   // a resource error to back off on, or a final error
	w                   []smol.Waker
}

// newListener puts a dup of the listening socket s on the ring. own is
// held.
func (cr *cring) newListener(s int) (*ulisten, error) {
	d, err := unix.FcntlInt(uintptr(s), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	l := &ulisten{cr: cr, fd: d}
	l.dupFd.Store(int32(d))
	l.slot = cr.allocListener(l)
	return l, nil
}

// acceptDone handles a CQE of the multishot accept.
func (cr *cring) acceptDone(l *ulisten, cqe *uring.CQE) {
	switch res := cqe.Res; {
	case res >= 0:
		if l.shut {
			unix.Close(int(res))
			break
		}
		l.q = append(l.q, res)
		if len(l.q) >= acceptQueue && cqe.More() && !l.capped {
			if sqe := cr.sqe(); sqe != nil {
				uring.PrepCancel(sqe, ud(l.slot, opAccept), false, ud(l.slot, opCancel))
				sqe.Flags |= uring.SQECQESkipSuccess
				l.capped = true
				cr.kick()
			}
		}
	case res == -int32(unix.ECANCELED), res == -int32(unix.ECONNABORTED):
	default:
		if l.err == nil {
			l.err = unix.Errno(-res)
		}
	}
	if !cqe.More() {
		l.armed, l.capped = false, false
		if l.shut {
			cr.finishListener(l)
		}
	}
	l.wake()
}

// requeueClose queues a close that found no room in the submission queue
// again, for the next round.
func (cr *cring) requeueClose(cl closer) {
	cr.mu.Lock()
	cr.closeq = append(cr.closeq, cl)
	cr.mu.Unlock()
	cr.kick()
}

// shutListener starts closing l: cancel its accept, close what it queued.
func (cr *cring) shutListener(l *ulisten) {
	if !l.shut {
		l.shut = true
		l.wake()
		l.drop()
	}
	if !l.armed {
		cr.finishListener(l)
		return
	}
	if l.cancelled {
		return
	}
	// A second call, from a Close requeued for want of an SQE, gets here
	// too and sends the cancel that the first could not.
	sqe := cr.sqe()
	if sqe == nil {
		cr.requeueClose(closer{l: l})
		return
	}
	uring.PrepCancel(sqe, ud(l.slot, opAccept), true, ud(l.slot, opCancel))
	sqe.Flags |= uring.SQECQESkipSuccess
	l.cancelled = true
	cr.kick()
}

// finishListener closes l's dup and frees its slot once its accept is over.
func (cr *cring) finishListener(l *ulisten) {
	if l.armed || l.slot == ^uint32(0) {
		return
	}
	l.drop()
	l.closeDup()
	cr.lsns[l.slot] = nil
	l.slot = ^uint32(0)
}

// closeDup closes the ring's dup of the listening socket, once.
func (l *ulisten) closeDup() {
	if fd := l.dupFd.Swap(-1); fd >= 0 {
		unix.Close(int(fd))
	}
}

// drop closes the connections accepted and not taken.
func (l *ulisten) drop() {
	for _, s := range l.q {
		unix.Close(int(s))
	}
	l.q = l.q[:0]
}

// wake wakes every accepting task.
func (l *ulisten) wake() {
	for i, w := range l.w {
		w.Wake()
		l.w[i] = nil
	}
	l.w = l.w[:0]
}

// pollAcceptRing is pollAccept on the ring cr: the next connection that
// the multishot accept queued, set up with setup, on cr. handled is false
// if the listener's accept belongs to another executor's ring: the caller
// then uses the readiness path.
func (l *listener[A]) pollAcceptRing(cx *smol.Context, cr *cring, setup func(s int) error) (c *uconn, peer netip.AddrPort, ok, handled bool, err error) {
	u := l.u.Load()
	if u != nil && u.cr != cr {
		return nil, peer, false, false, nil
	}
	if e := cr.enter(cx); e != nil {
		return nil, peer, true, true, l.opErr("accept", e)
	}
	defer cr.own.Unlock()
	if u == nil {
		err := control(l.fd, func(s int) (err error) {
			u, err = cr.newListener(s)
			return err
		})
		if err != nil {
			return nil, peer, true, true, l.opErr("accept", sockErr("accept", err))
		}
		l.u.Store(u)
	}
	for {
		if control(l.fd, func(int) error { return nil }) != nil || u.shut {
			// Closed; if Close ran before u was stored, it could not queue
			// u, so shut it here (shutListener runs once).
			cr.shutListener(u)
			return nil, peer, true, true, l.opErr("accept", net.ErrClosed)
		}
		if !cx.Proceed() {
			return nil, peer, false, true, nil
		}
		if l.bo.wait(cx) {
			cx.WaitingOn(l, smol.WaitAccept)
			return nil, peer, false, true, nil
		}
		if len(u.q) > 0 {
			s := int(u.q[0])
			u.q = u.q[:copy(u.q, u.q[1:])]
			if err := setup(s); err != nil {
				unix.Close(s)
				return nil, peer, true, true, l.opErr("accept", err)
			}
			peer = peerAddrPort(s)
			l.bo.succeeded()
			return cr.newConn(s), peer, true, true, nil
		}
		if e := u.err; e != nil {
			u.err = nil
			switch e {
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				d := l.bo.fail()
				if l.onBackoff != nil {
					l.onBackoff(sockErr("accept", e), d)
				}
				continue
			}
			if e == unix.EINVAL {
				// The socket stopped listening: Close shut it down
				// before closing it (see listener.Close).
				return nil, peer, true, true, l.opErr("accept", net.ErrClosed)
			}
			return nil, peer, true, true, l.opErr("accept", sockErr("accept", e))
		}
		if !u.armed {
			sqe := cr.sqe()
			if sqe == nil {
				cr.kick()
			} else {
				uring.PrepAcceptMultishot(sqe, u.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, ud(u.slot, opAccept))
				u.armed = true
				cr.kick()
			}
		}
		if w := cx.Waker(); !slices.Contains(u.w, w) {
			u.w = append(u.w, w)
		}
		cx.WaitingOn(l, smol.WaitAccept)
		return nil, peer, false, true, nil
	}
}

// peerAddrPort returns the peer's address of the connected socket s
// (getpeername(2) into a socket address on the stack, as sysAccept does),
// or an unset address.
func peerAddrPort(s int) netip.AddrPort {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	_, _, errno := unix.RawSyscall(unix.SYS_GETPEERNAME, uintptr(s), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return netip.AddrPort{}
	}
	return rawToAddrPort(&rsa)
}

// closeRing queues l's accept for closing, if it has one on a ring.
func (l *listener[A]) closeRing() {
	u := l.u.Load()
	if u == nil {
		return
	}
	cr := u.cr
	cr.mu.Lock()
	if cr.dead != nil {
		// The ring is gone; shutdown closed what the accept queued.
		cr.mu.Unlock()
		u.closeDup()
		return
	}
	cr.closeq = append(cr.closeq, closer{l: u})
	w := cr.waker
	cr.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}
