//go:build linux

package uring

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring is one io_uring instance: its submission and completion queues
// mapped into this process, the wake-up that Notify sends through, and the
// provided buffer rings registered with it.
//
// A Ring has one owner at a time. GetSQE, Submit, SubmitAndWait, Reap, the
// Register* methods, NewBufRing and Close must not run concurrently with
// one another; the caller serializes them (the reactor's driver lock does).
// Notify may be called from any goroutine at any time, also while the owner
// is blocked in SubmitAndWait.
type Ring struct {
	fd       int
	flags    uint32 // setup flags the kernel accepted
	features uint32
	opts     Options

	// Submission queue. sqHead is written by the kernel, sqTail by us; the
	// rest is fixed at setup. sqeTail counts the SQEs handed out by GetSQE;
	// the SQEs from *sqTail up to sqeTail are prepared but not yet
	// published to the kernel.
	sqHead, sqTail, sqFlags *uint32
	sqMask, sqEntries       uint32
	sqes                    []SQE
	sqeTail                 uint32

	// Completion queue. cqTail is written by the kernel, cqHead by us.
	cqHead, cqTail    *uint32
	cqMask, cqEntries uint32
	cqes              []CQE

	ringMem, cqMem, sqeMem []byte // mappings, unmapped by Close

	// waitTS and waitArg are the timeout and extended argument of a timed
	// SubmitAndWait. They live here rather than on the stack because the
	// kernel reads them through a uintptr.
	waitTS  unix.Timespec
	waitArg getEventsArg

	// Wake-up (see initWake). notifier is a second, small ring that
	// Notify sends IORING_OP_MSG_RING from; its message arrives here as a
	// CQE with user data WakeUserData. Where MSG_RING is missing, or with
	// Options.EventfdWake, wakeFd is an eventfd armed here as a multishot
	// poll with that user data, and Notify writes it instead. notified
	// deduplicates the sends: set by the Notify that sends, cleared by
	// Reap when it consumes the wake-up CQE. wakeArmed is false when the
	// eventfd's multishot poll has ended and must be re-armed before the
	// next wait.
	notifier  *Ring
	wakeFd    int
	notified  atomic.Bool
	wakeArmed bool
	wakeBuf   [8]byte // the eventfd's 8-byte 1, written by Notify
	wakeCQEs  [4]CQE  // the notifier's failure CQEs, reaped by Notify

	// closed is set once by Close. notifyMu serializes the Notify calls
	// that send (the notifier's SQ has one owner at a time) and keeps
	// Close from closing the notifier or the eventfd under one of them.
	closed   atomic.Bool
	notifyMu sync.Mutex

	// Park: the fd handed to the Go runtime's poller (see park_linux.go):
	// the ring fd itself, or under DEFER_TASKRUN an eventfd registered
	// with the ring (parkEventfd). cqFlags is the CQ ring's flags word,
	// where we turn that eventfd's signals off while we are not parked.
	file        *os.File
	rc          syscall.RawConn
	deadline    bool
	onReadable  func(uintptr) bool
	parkEventfd bool
	cqFlags     *uint32
	drainBuf    [8]byte
	// parked is set while the owner (or Park's caller) is parked in the
	// Go runtime's poller; kicked is set by a Notify that cut such a park
	// short with a past read deadline. See kick (park_linux.go).
	parked, kicked atomic.Bool

	bufRings []*BufRing
	files    uint32 // size of the registered file table, 0 if none

	// Stats counts system calls and exceptional results. Only the owner
	// writes it; read it between calls, from the owner.
	Stats Stats
}

// Stats counts what a Ring did. The benchmarks report Enters per operation.
type Stats struct {
	// Enters counts io_uring_enter calls, including those that only
	// submitted and those made while parked.
	Enters uint64
	// Parks counts waits that parked the goroutine in the Go runtime's
	// poller instead of blocking in io_uring_enter.
	Parks uint64
	// ParkEnters counts the blocking enters of Park on a ring without
	// Options.Park. It is apart from Enters because Park may run while
	// another goroutine submits.
	ParkEnters uint64
	// EINTR counts waits interrupted by a signal (the Go runtime's
	// preemption signal, mostly).
	EINTR uint64
	// EBUSY and EAGAIN count submissions the kernel refused for now.
	EBUSY, EAGAIN uint64
	// Wakes counts the wake-up poll's CQEs that Reap consumed: at most
	// one per Notify that wrote the eventfd.
	Wakes uint64
	// Overflows counts times Reap found the kernel holding completions
	// that did not fit in the CQ (IORING_SQ_CQ_OVERFLOW), which a
	// GETEVENTS enter then flushed.
	Overflows uint64
}

// Options configures New. The zero value is a good default.
type Options struct {
	// Entries is the submission queue size, rounded up to a power of two;
	// 0 means 256. It bounds how many SQEs one Submit hands over; GetSQE
	// submits by itself when the queue is full.
	Entries uint32
	// CQEntries is the completion queue size; 0 means 8 times Entries.
	// Multishot requests post many completions per SQE, so the CQ should
	// be much larger than the SQ. Completions that do not fit are not lost
	// (the kernel keeps them, IORING_FEAT_NODROP) but cost a slow path.
	CQEntries uint32
	// SingleIssuer asks for IORING_SETUP_SINGLE_ISSUER|DEFER_TASKRUN: the
	// kernel runs completion work only inside this thread's GETEVENTS
	// enters, with no interrupts of a thread running Go code. The kernel
	// binds the ring to the OS thread that created it, so the caller must
	// call runtime.LockOSThread before New and make every call except
	// Notify from that goroutine; any other thread gets EEXIST. With Park,
	// waits park on an eventfd registered with the ring (see
	// park_linux.go).
	SingleIssuer bool
	// CoopTaskrun asks for IORING_SETUP_COOP_TASKRUN|TASKRUN_FLAG: the
	// kernel does not interrupt a thread running user code to post its
	// completions, and waits for that thread's next system call instead.
	// In Go the thread that submitted is often running other goroutines,
	// so this can delay a completion by up to the 10 ms the runtime takes
	// to preempt them; it is off by default.
	CoopTaskrun bool
	// EventfdWake makes Notify write an eventfd armed on the ring as a
	// multishot poll, instead of sending IORING_OP_MSG_RING from a second
	// ring. The eventfd's wake-up reaches the ring as completion work on
	// the thread that armed the poll, which in Go may be busy or asleep;
	// MSG_RING posts the CQE directly. BenchmarkWake measures both. Kernels
	// without MSG_RING (before 5.18) get the eventfd regardless; rings with
	// SingleIssuer and Park never do (see initWake).
	EventfdWake bool
	// Park makes blocking waits park the goroutine in the Go runtime's
	// poller on the ring fd (readable when CQEs are ready), so a waiting
	// owner holds no P and no thread, instead of blocking in
	// io_uring_enter. See park_linux.go for the measured cost.
	Park bool
	// NoWake leaves out Notify's wake-up (no notifier ring, no eventfd
	// armed on the ring): for an owner that is woken by other means, such
	// as smolnet's completion rings, whose owner waits in the reactor on
	// an eventfd registered with RegisterEventfd. Notify then fails.
	NoWake bool

	// noWake leaves out the wake-up: the notifier ring itself has none.
	noWake bool
}

// WakeUserData is the user data of the wake-up CQEs that Notify causes
// (the MSG_RING message, or the eventfd poll's CQE). Reap consumes them and
// never returns them; callers must not use this value.
const WakeUserData = ^uint64(0)

// ErrClosed is returned by the methods of a closed Ring.
var ErrClosed = errors.New("uring: ring closed")

// ErrSQFull is returned by GetSQE when the submission queue is full and
// submitting it did not make room (the kernel refused with EAGAIN or
// EBUSY; reap completions and try again).
var ErrSQFull = errors.New("uring: submission queue full")

// New creates a ring: io_uring_setup with the best flags this kernel
// accepts, the mappings of the queues, and the wake-up that Notify uses
// (a notifier ring for MSG_RING, or an eventfd armed as a multishot poll;
// see initWake). It opens two fds. Errors from the kernel are *os.SyscallError values
// wrapping a unix.Errno: ENOSYS (no io_uring), EPERM (forbidden by seccomp
// or by /proc/sys/kernel/io_uring_disabled), ENOMEM or EMFILE. Call
// Available first to learn whether the reactor should use io_uring at all.
func New(opts Options) (*Ring, error) {
	entries := opts.Entries
	if entries == 0 {
		entries = 256
	}
	cq := opts.CQEntries
	if cq == 0 {
		cq = 8 * entries
	}
	p, fd, err := setupWithFallback(entries, cq, opts)
	if err != nil {
		return nil, err
	}
	r := &Ring{fd: fd, flags: p.flags, features: p.features, opts: opts, wakeFd: -1}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	if opts.noWake || opts.NoWake {
		return r, nil
	}
	if err := r.initWake(); err != nil {
		r.Close()
		return nil, err
	}
	if opts.Park {
		r.initPark()
	}
	return r, nil
}

// setupWithFallback calls io_uring_setup with the wanted flags, dropping
// the optional ones, newest first, while the kernel answers EINVAL (a flag
// it does not know). Any other error is final.
func setupWithFallback(entries, cq uint32, opts Options) (params, int, error) {
	base := uint32(setupCQSize | setupClamp)
	// Newest last: dropped first. NO_SQARRAY (6.6) removes the SQ index
	// array; SUBMIT_ALL (5.18) keeps submitting past an SQE that fails to
	// prepare, so one bad SQE does not leave the rest of a batch queued.
	optional := []uint32{setupSubmitAll}
	if opts.CoopTaskrun {
		optional = append(optional, setupCoopTaskrun|setupTaskrunFlag)
	}
	if opts.SingleIssuer {
		optional = append(optional, setupSingleIssuer|setupDeferTaskrun|setupTaskrunFlag)
	}
	optional = append(optional, setupNoSQArray)
	for {
		flags := base
		for _, f := range optional {
			flags |= f
		}
		p := params{flags: flags, cqEntries: cq}
		fd, e := setup(entries, &p)
		if e == 0 {
			return p, fd, nil
		}
		if e != unix.EINVAL || len(optional) == 0 {
			return params{}, -1, os.NewSyscallError("io_uring_setup", e)
		}
		optional = optional[:len(optional)-1]
	}
}

// mapRings maps the SQ ring, the CQ ring (the same mapping when the kernel
// has IORING_FEAT_SINGLE_MMAP, 5.4+) and the SQE array, and sets the
// pointers into them.
func (r *Ring) mapRings(p *params) error {
	// The SQ ring ends with the index array, the CQ ring with the CQEs.
	// Under NO_SQARRAY (6.6+, which always has SINGLE_MMAP) there is no
	// array and sqOff.array is 0; the shared mapping's size then comes from
	// the CQ side, which lies after the SQ indexes in the same structure.
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	if p.flags&setupNoSQArray != 0 {
		sqSize = 0
	}
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*int(unsafe.Sizeof(CQE{}))
	single := p.features&featSingleMmap != 0
	if single || sqSize == 0 {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if r.ringMem, err = mmapRing(r.fd, offSQRing, sqSize); err != nil {
		return err
	}
	r.cqMem = r.ringMem
	if !single {
		if r.cqMem, err = mmapRing(r.fd, offCQRing, cqSize); err != nil {
			return err
		}
	}
	if r.sqeMem, err = mmapRing(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(SQE{}))); err != nil {
		return err
	}

	sq := unsafe.Pointer(&r.ringMem[0])
	u32 := func(base unsafe.Pointer, off uint32) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	r.sqHead = u32(sq, p.sqOff.head)
	r.sqTail = u32(sq, p.sqOff.tail)
	r.sqFlags = u32(sq, p.sqOff.flags)
	r.sqMask = *u32(sq, p.sqOff.ringMask)
	r.sqEntries = *u32(sq, p.sqOff.ringEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqEntries)
	if p.flags&setupNoSQArray == 0 {
		// The SQ array maps ring slots to SQE indexes. Slot i always holds
		// SQE i, so it is filled once here; the kernel only reads it.
		arr := unsafe.Slice(u32(sq, p.sqOff.array), r.sqEntries)
		for i := range arr {
			arr[i] = uint32(i)
		}
	}
	// The tail is ours; a new ring starts with head == tail == 0, but read
	// it rather than assume.
	r.sqeTail = atomic.LoadUint32(r.sqTail)

	cqb := unsafe.Pointer(&r.cqMem[0])
	r.cqHead = u32(cqb, p.cqOff.head)
	r.cqFlags = u32(cqb, p.cqOff.flags)
	r.cqTail = u32(cqb, p.cqOff.tail)
	r.cqMask = *u32(cqb, p.cqOff.ringMask)
	r.cqEntries = *u32(cqb, p.cqOff.ringEntries)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(cqb, p.cqOff.cqes)), r.cqEntries)
	return nil
}

// initWake sets up Notify's way to wake the ring.
//
// Preferred: a second ring of two entries, the notifier, from which
// Notify sends IORING_OP_MSG_RING to this ring. The kernel posts the
// message as a CQE on this ring directly, from the sending thread, and
// wakes this ring's waiters (an enter, or the Go runtime's poller when
// parked): one system call, and no other thread involved.
//
// Fallback: an eventfd armed as a multishot poll. The eventfd is never
// read: a multishot poll posts a CQE for every write (eventfd_write wakes
// the wait queue each time, and the poll re-checks readiness after every
// wake-up it was handed), so the counter only grows, by one per Notify that
// got through the flag, and would take centuries to saturate. Its cost is
// the hop the wake-up takes: the poll's completion runs as task work on the
// thread that armed it.
func (r *Ring) initWake() error {
	// A DEFER_TASKRUN ring that parks cannot use the eventfd: the poll's
	// completion work is queued from inside the eventfd's wake-up, where
	// the kernel may not signal another eventfd (eventfd_signal_allowed),
	// so the registered eventfd that the parked owner waits on is not
	// signalled and the wake-up is lost until the wait times out (seen on
	// 6.18). The same holds for any eventfd polled through such a ring.
	// MSG_RING exists wherever DEFER_TASKRUN does (5.18 against 6.1).
	deferPark := r.flags&setupDeferTaskrun != 0 && r.opts.Park
	if !r.opts.EventfdWake || deferPark {
		if pr, err := r.Probe(); err == nil && pr.Supports(OpMsgRing) {
			n, err := New(Options{Entries: 2, CQEntries: 4, noWake: true})
			if err != nil {
				return err
			}
			r.notifier = n
			return nil
		}
	}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("eventfd", err)
	}
	r.wakeFd = fd
	*(*uint64)(unsafe.Pointer(&r.wakeBuf[0])) = 1
	r.armWake()
	_, err = r.Submit()
	return err
}

// WakeMethod returns how Notify wakes the ring: "msg_ring" or "eventfd".
func (r *Ring) WakeMethod() string {
	if r.notifier != nil {
		return "msg_ring"
	}
	return "eventfd"
}

// armWake prepares the wake-up poll. If the SQ is full it leaves wakeArmed
// false, and the next Submit or SubmitAndWait tries again.
func (r *Ring) armWake() {
	sqe := r.trySQE()
	if sqe == nil {
		return
	}
	PrepPollMultishot(sqe, r.wakeFd, unix.POLLIN, WakeUserData)
	r.wakeArmed = true
}

// Fd returns the ring's file descriptor. Do not close it.
func (r *Ring) Fd() int { return r.fd }

// SetupFlags returns the IORING_SETUP_* flags the kernel accepted.
func (r *Ring) SetupFlags() uint32 { return r.flags }

// DeferTaskrun reports whether the kernel accepted SingleIssuer's
// IORING_SETUP_DEFER_TASKRUN (Linux 6.1+): completion work waits for the
// owner's GETEVENTS enters.
func (r *Ring) DeferTaskrun() bool { return r.flags&setupDeferTaskrun != 0 }

// Features returns the IORING_FEAT_* bits the kernel reported.
func (r *Ring) Features() uint32 { return r.features }

// SQEntries and CQEntries return the sizes the kernel gave the queues.
func (r *Ring) SQEntries() uint32 { return r.sqEntries }

// CQEntries returns the completion queue's size.
func (r *Ring) CQEntries() uint32 { return r.cqEntries }

// trySQE returns the next free SQE, zeroed, or nil if the queue is full.
func (r *Ring) trySQE() *SQE {
	// Acquire load of the kernel's head: the kernel stores it with
	// smp_store_release after it has read the SQEs before it, so once we
	// see a slot as free the kernel is done with its contents and we may
	// overwrite them. (Without SQPOLL the kernel reads SQEs only inside
	// our own io_uring_enter, which orders them anyway; the atomic load
	// costs nothing on the architectures Go supports and keeps the
	// argument independent of that.)
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqEntries {
		return nil
	}
	sqe := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*sqe = SQE{}
	return sqe
}

// GetSQE returns the next free SQE, zeroed, for a Prep* function to fill.
// It is handed to the kernel by the next Submit or SubmitAndWait. If the
// queue is full, GetSQE submits it first (one io_uring_enter); if the
// kernel refuses for now, it returns ErrSQFull.
func (r *Ring) GetSQE() (*SQE, error) {
	if sqe := r.trySQE(); sqe != nil {
		return sqe, nil
	}
	if r.closed.Load() {
		return nil, ErrClosed
	}
	if _, err := r.Submit(); err != nil && !isTransient(err) {
		return nil, err
	}
	if sqe := r.trySQE(); sqe != nil {
		return sqe, nil
	}
	return nil, ErrSQFull
}

// Pending returns how many SQEs are prepared or published but not yet
// consumed by the kernel.
func (r *Ring) Pending() uint32 { return r.sqeTail - atomic.LoadUint32(r.sqHead) }

// flushSQ publishes the prepared SQEs to the kernel and returns how many
// it has not consumed yet.
func (r *Ring) flushSQ() uint32 {
	if !r.wakeArmed && r.wakeFd >= 0 {
		r.armWake()
	}
	// Release store of the tail: every write to the SQEs before it is
	// visible to the kernel before the new tail is (the kernel loads the
	// tail with smp_load_acquire and only then reads the entries). Go's
	// atomics are sequentially consistent, which includes release.
	atomic.StoreUint32(r.sqTail, r.sqeTail)
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// Submit hands every prepared SQE to the kernel in one io_uring_enter, or
// makes no system call if none is prepared and the kernel needs no
// GETEVENTS call (to flush overflowed completions or run deferred work).
// It returns how many SQEs the kernel consumed. It never waits for
// completions. Errors are as for SubmitAndWait.
func (r *Ring) Submit() (int, error) {
	return r.SubmitAndWait(0)
}

// SubmitAndWait is the one io_uring_enter of a loop iteration: it submits
// every prepared SQE and, in the same call, waits until at least one
// completion is ready or timeout has passed (timeout < 0: no limit; 0: do
// not wait). It does not wait if completions are already ready. It returns
// how many SQEs the kernel consumed.
//
// It returns nil when the wait ended for any ordinary reason: a
// completion, the timeout (ETIME), a signal (EINTR), or a Notify; the
// caller reaps and reads its clock. It returns an error wrapping
// unix.EBUSY or unix.EAGAIN when the kernel refused submissions for now
// (completions must be reaped first, or memory is short): the SQEs stay
// queued and the next call submits them. unix.EBADR means the kernel had to
// drop completions (it could not allocate overflow entries): requests may
// never complete, and the caller should tear the ring down. After Close it
// returns ErrClosed.
func (r *Ring) SubmitAndWait(timeout time.Duration) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	toSubmit := r.flushSQ()
	wait := timeout != 0 && r.cqReady() == 0
	// IORING_SQ_CQ_OVERFLOW: completions are waiting in the kernel's
	// overflow list; IORING_SQ_TASKRUN: completion work is waiting for a
	// GETEVENTS enter to run it. Relaxed would do, but Go has no relaxed
	// atomics; the flag is a hint either way.
	kflags := loadFlags(r)
	getEvents := wait || kflags&(sqCQOverflow|sqTaskrun) != 0
	if toSubmit == 0 && !getEvents {
		return 0, nil
	}
	if wait && r.rc != nil {
		return r.parkWait(toSubmit, timeout)
	}
	var flags, minComplete uint32
	var arg unsafe.Pointer
	var argSz uintptr
	if getEvents {
		flags |= enterGetEvents
	}
	if wait {
		minComplete = 1
		if timeout > 0 {
			r.waitTS = unix.NsecToTimespec(int64(timeout))
			r.waitArg = getEventsArg{ts: uint64(uintptr(unsafe.Pointer(&r.waitTS)))}
			arg, argSz = unsafe.Pointer(&r.waitArg), unsafe.Sizeof(r.waitArg)
			flags |= enterExtArg
		}
	}
	r.Stats.Enters++
	var n int
	var e unix.Errno
	if wait {
		n, e = enterBlocking(r.fd, toSubmit, minComplete, flags, arg, argSz)
	} else {
		n, e = enterRaw(r.fd, toSubmit, 0, flags, nil, 0)
	}
	return r.enterResult(n, e)
}

// enterResult turns io_uring_enter's result into SubmitAndWait's.
func (r *Ring) enterResult(n int, e unix.Errno) (int, error) {
	switch e {
	case 0:
		return n, nil
	case unix.EINTR:
		r.Stats.EINTR++
		return 0, nil
	case unix.ETIME:
		return 0, nil
	case unix.EBUSY:
		r.Stats.EBUSY++
	case unix.EAGAIN:
		r.Stats.EAGAIN++
	}
	return 0, os.NewSyscallError("io_uring_enter", e)
}

// isTransient reports whether err is EBUSY or EAGAIN from SubmitAndWait.
func isTransient(err error) bool {
	return errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EAGAIN)
}

// loadFlags reads the SQ ring's flags word, which the kernel updates with
// atomic ORs and ANDs. The bits are hints that tell us to enter the kernel;
// a stale read costs at most one wasted or one deferred enter.
func loadFlags(r *Ring) uint32 { return atomic.LoadUint32(r.sqFlags) }

// HasWork reports whether the owner has something to collect: completions
// ready to reap, completions waiting in the kernel's overflow list, or
// (under SingleIssuer, which sets IORING_SETUP_TASKRUN_FLAG) completion
// work queued for the owner's next GETEVENTS enter. It makes no system
// call. SubmitAndWait(0) collects all three.
func (r *Ring) HasWork() bool {
	return r.cqReady() != 0 || loadFlags(r)&(sqTaskrun|sqCQOverflow) != 0
}

// cqReady returns how many completions are ready to reap.
func (r *Ring) cqReady() uint32 {
	// Acquire load of the kernel's tail: it pairs with the kernel's
	// smp_store_release of the tail in io_commit_cqring, which comes after
	// the CQEs are written. Our head is only written by us.
	return atomic.LoadUint32(r.cqTail) - atomic.LoadUint32(r.cqHead)
}

// Reap copies up to len(cqes) ready completions into cqes and returns how
// many it copied. It never makes a system call and never blocks. The
// wake-up poll's CQEs are consumed here (they clear the Notify flag, and
// re-arm the poll if it ended) and are not returned.
func (r *Ring) Reap(cqes []CQE) int {
	if loadFlags(r)&sqCQOverflow != 0 {
		// Completions are waiting in the kernel's overflow list; the next
		// SubmitAndWait flushes them with GETEVENTS.
		r.Stats.Overflows++
	}
	// head is written only by us, so a plain read would do; the atomic
	// load keeps the race detector and the reader's mind equally calm.
	head := atomic.LoadUint32(r.cqHead)
	// Acquire: see cqReady. Every CQE before tail is fully written.
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for head != tail && n < len(cqes) {
		c := r.cqes[head&r.cqMask]
		head++
		if c.UserData == WakeUserData {
			r.consumeWake(&c)
			continue
		}
		cqes[n] = c
		n++
	}
	// Release store of the head: our reads of the slots before it happen
	// before the kernel may see them as free and overwrite them (it loads
	// the head with READ_ONCE after a full barrier when it checks for
	// space).
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// consumeWake handles a CQE of the wake-up poll.
func (r *Ring) consumeWake(c *CQE) {
	// Clearing the flag here, after the CQE that the Notify's write caused
	// has been seen, is the same argument as the epoll poller's (see
	// internal/poller, Wait): a Notify whose load of the flag precedes this
	// store in the total order of atomic operations skipped its write, but
	// published its state before that load, so the owner, which reads its
	// state after Reap returns, sees it. A Notify after the store finds
	// the flag clear and writes, and that write posts a new CQE, because
	// the multishot poll re-checks readiness after every wake-up.
	r.notified.Store(false)
	r.Stats.Wakes++
	if r.wakeFd >= 0 && c.Flags&CQEFMore == 0 && !r.closed.Load() {
		// The eventfd's multishot poll ended (for example it was cancelled, or the
		// CQ overflowed); re-arm it before the next wait.
		r.wakeArmed = false
	}
}

// Notify wakes the owner blocked in SubmitAndWait (or parked), or makes
// its next wait return at once. Notifies between two Reaps cost one system
// call in all (an io_uring_enter on the notifier ring, or a write of the
// eventfd). Notify may be called from any goroutine; it returns ErrClosed
// after Close.
func (r *Ring) Notify() error {
	if r.closed.Load() {
		return ErrClosed
	}
	// A plain load first: while a wake-up is pending (common under load)
	// it reads a shared cache line instead of taking it exclusively.
	if r.notified.Load() {
		return nil
	}
	if !r.notified.CompareAndSwap(false, true) {
		return nil
	}
	// Only the winner of the swap sends; the mutex orders it after a
	// previous winner that may still be inside its system call (the owner
	// can consume a wake-up and clear the flag before the sender returns).
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	if r.closed.Load() {
		return ErrClosed
	}
	if err := r.sendWake(); err != nil {
		r.notified.Store(false)
		return err
	}
	r.kick()
	return nil
}

// sendWake sends one wake-up; notifyMu is held.
func (r *Ring) sendWake() error {
	if n := r.notifier; n != nil {
		sqe := n.trySQE()
		if sqe == nil {
			// Cannot happen: each send is submitted before the next.
			return ErrSQFull
		}
		PrepMsgRing(sqe, r.fd, 0, WakeUserData, 0)
		sqe.Flags |= SQECQESkipSuccess // no CQE on the notifier unless it fails
		if _, err := n.Submit(); err != nil {
			return err
		}
		// A failed send posts a CQE on the notifier; nothing else does.
		for _, c := range n.wakeCQEs[:n.Reap(n.wakeCQEs[:])] {
			if c.Res < 0 {
				return os.NewSyscallError("msg_ring", unix.Errno(-c.Res))
			}
		}
		return nil
	}
	_, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(r.wakeFd), uintptr(unsafe.Pointer(&r.wakeBuf[0])), 8)
	if e != 0 && e != unix.EAGAIN { // EAGAIN: the counter is full, so readable
		return os.NewSyscallError("write", e)
	}
	return nil
}

// Close cancels every request in flight and waits for the cancellations to
// finish (IORING_REGISTER_SYNC_CANCEL), unregisters and unmaps the buffer
// rings, closes the eventfd and the ring fd, and unmaps the queues. After
// it returns the kernel holds no reference to any memory of this process
// that an operation named: send buffers given to PrepSend may be reused.
// Close must not run concurrently with the owner's methods; Notify may
// run concurrently and returns ErrClosed afterwards. A second Close returns
// ErrClosed.
func (r *Ring) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	r.cancelAllSync()
	var first error
	keep := func(err error) {
		if err != nil && first == nil {
			first = err
		}
	}
	for _, b := range r.bufRings {
		keep(b.free())
	}
	r.bufRings = nil
	r.notifyMu.Lock()
	if r.notifier != nil {
		keep(r.notifier.Close())
		r.notifier = nil
	}
	keep(r.closeFds())
	r.notifyMu.Unlock()
	// The queues: the CQ shares the SQ ring's mapping under
	// IORING_FEAT_SINGLE_MMAP.
	if r.cqMem != nil && r.ringMem != nil && &r.cqMem[0] != &r.ringMem[0] {
		keep(unix.Munmap(r.cqMem))
	}
	for _, m := range [][]byte{r.sqeMem, r.ringMem} {
		if m != nil {
			keep(unix.Munmap(m))
		}
	}
	r.sqeMem, r.cqMem, r.ringMem, r.sqes, r.cqes = nil, nil, nil, nil, nil
	return first
}

// cancelAllSync cancels every request in flight and returns when the
// kernel has finished cancelling them (6.0+). On kernels without sync
// cancel, closing the ring fd cancels them asynchronously instead.
func (r *Ring) cancelAllSync() {
	reg := syncCancelReg{fd: -1, flags: cancelAny | cancelAll, timeout: unix.Timespec{Sec: 1}}
	_, _ = register(r.fd, registerSyncCancel, unsafe.Pointer(&reg), 1)
}

// closeFds closes the eventfd and the ring fd (through the os.File once
// the ring is parked in the runtime's poller).
func (r *Ring) closeFds() error {
	var first error
	if r.wakeFd >= 0 {
		if err := unix.Close(r.wakeFd); err != nil {
			first = os.NewSyscallError("close", err)
		}
		r.wakeFd = -1
	}
	if r.file != nil {
		// The File owns the fd it wraps: the ring fd, or the eventfd.
		if err := r.file.Close(); err != nil && first == nil {
			first = err
		}
		if !r.parkEventfd {
			r.fd = -1
		}
		r.file, r.rc = nil, nil
	}
	if r.fd >= 0 {
		if err := unix.Close(r.fd); err != nil && first == nil {
			first = os.NewSyscallError("close", err)
		}
		r.fd = -1
	}
	return first
}
