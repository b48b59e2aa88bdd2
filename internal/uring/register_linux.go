//go:build linux

package uring

// io_uring_register: probing opcodes, the registered (fixed) file table,
// registered buffers, and provided buffer rings.
//
// # What pays, measured on this machine
//
// Registered files (IOSQE_FIXED_FILE) save the fdget/fdput of every
// request, which in a multi-threaded process (every Go program) is an
// atomic increment and decrement of the file's reference count. The
// saving is small and per request, the cost is one table update per
// connection, which can ride in the same enter as other SQEs
// (PrepFilesUpdate). BenchmarkPingPong's "uring-fixed" variant measured no
// gain beyond noise over five runs (CPU per round trip 5.5-8.6 µs against
// 5.5-12.2 µs without, 16 and 256 connections; 16-27 against 17-33 µs at
// one connection), so the reactor should not bother until a benchmark on
// a larger machine says otherwise.
//
// Registered buffers (IORING_REGISTER_BUFFERS) pin pages once so that a
// request need not pin them itself. A copying send never pins anything
// (it is a copy_from_user), and on Linux 6.18 a plain IORING_OP_SEND
// refuses a registered buffer with EINVAL; only zero-copy sends
// (IORING_OP_SEND_ZC) take one. Zero-copy costs a second CQE per send (the
// notification that the pages are free) and page pinning, which only large
// payloads repay (where that break-even lies on this machine is not
// measured here); BenchmarkPingPong's
// "uring-zc" variant costs up to 2x the CPU of plain sends for 64-byte
// messages (16.9 against 7.5 µs per round trip at 256 connections, one
// run). So registered
// buffers pay for bulk writes and O_DIRECT file I/O, not for the echo
// path; RegisterBuffers is here for those.
//
// The registered ring fd (IORING_REGISTER_RING_FDS) would save the
// fdget of the ring fd on every enter, but the registration lives in the
// calling thread's io_uring context, and goroutines move between threads:
// an enter from another thread would fail. It is usable only by a
// SingleIssuer ring's locked thread, and is not implemented.

import (
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probe is the set of opcodes the kernel supports, from
// IORING_REGISTER_PROBE (5.6+).
type Probe struct {
	last uint8
	ops  [opLast]bool
}

// Probe asks the kernel which opcodes it supports.
func (r *Ring) Probe() (*Probe, error) {
	var p probe
	if _, err := register(r.fd, registerProbe, unsafe.Pointer(&p), opLast); err != nil {
		return nil, err
	}
	pr := &Probe{last: p.lastOp}
	for i := 0; i < int(p.opsLen) && i < opLast; i++ {
		if p.ops[i].flags&ioURingOpSupported != 0 {
			pr.ops[p.ops[i].op] = true
		}
	}
	return pr, nil
}

// Supports reports whether the kernel supports opcode op.
func (p *Probe) Supports(op uint8) bool { return int(op) < len(p.ops) && p.ops[op] }

// RegisterFiles creates a sparse table of n registered file slots
// (IORING_RSRC_REGISTER_SPARSE, 5.19+). Fill slots with UpdateFiles or
// PrepFilesUpdate; a request uses slot i by setting SQE.Fd = i and the
// SQEFixedFile flag. The kernel holds its own reference to every file in
// the table: closing the fd does not close the socket until its slot is
// cleared.
func (r *Ring) RegisterFiles(n uint32) error {
	reg := rsrcRegister{nr: n, flags: rsrcRegisterSparse}
	if _, err := register(r.fd, registerFiles2, unsafe.Pointer(&reg), uint32(unsafe.Sizeof(reg))); err != nil {
		return err
	}
	r.files = n
	return nil
}

// UpdateFiles installs fds in the registered file table from slot off,
// with one system call; -1 clears a slot. Use PrepFilesUpdate to batch it
// with other SQEs instead.
func (r *Ring) UpdateFiles(off uint32, fds []int32) error {
	if len(fds) == 0 {
		return nil
	}
	up := rsrcUpdate{offset: off, data: uint64(uintptr(unsafe.Pointer(&fds[0])))}
	_, err := register(r.fd, registerFilesUpdate, unsafe.Pointer(&up), uint32(len(fds)))
	return err
}

// UnregisterFiles drops the registered file table.
func (r *Ring) UnregisterFiles() error {
	_, err := register(r.fd, unregisterFiles, nil, 0)
	if err == nil {
		r.files = 0
	}
	return err
}

// RegisterBuffers registers bufs as fixed buffers 0..len(bufs)-1, pinning
// their pages until the ring is closed or UnregisterBuffers. The memory
// should come from mmap (or stay reachable for as long as it is
// registered); see the file comment for when this pays.
func (r *Ring) RegisterBuffers(bufs [][]byte) error {
	iov := make([]iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = &b[0]
		iov[i].SetLen(len(b))
	}
	_, err := register(r.fd, registerBuffers, unsafe.Pointer(&iov[0]), uint32(len(iov)))
	return err
}

// RegisterEventfd registers efd (an eventfd) with the ring
// (IORING_REGISTER_EVENTFD): the kernel signals it when it posts a
// completion and, under SingleIssuer (DEFER_TASKRUN), when it queues
// completion work for the owner's next enter, once per transition of that
// queue from empty to not empty. SetEventfdSignals turns the signals off
// while the owner is busy anyway. A ring has at most one; it is
// unregistered when the ring is closed.
func (r *Ring) RegisterEventfd(efd int) error {
	fd32 := int32(efd)
	_, err := register(r.fd, registerEventfd, unsafe.Pointer(&fd32), 1)
	return err
}

// SetEventfdSignals turns the signals of the registered eventfd on or off
// (IORING_CQ_EVENTFD_DISABLED, a flag in the shared CQ ring: no system
// call). See setEventfdSignals for the ordering it gives.
func (r *Ring) SetEventfdSignals(on bool) { r.setEventfdSignals(on) }

// UnregisterBuffers drops the registered buffers.
func (r *Ring) UnregisterBuffers() error {
	_, err := register(r.fd, unregisterBuffers, nil, 0)
	return err
}

// BufRing is a provided buffer ring (IORING_REGISTER_PBUF_RING, 5.19+):
// a group of equal-sized buffers that the kernel picks from when a
// receive with SQEBufferSelect needs one, so that no buffer is tied to a
// connection until data arrives for it. The ring and the buffers are mmap
// memory outside the Go heap.
//
// There are as many ring slots as buffers, and every buffer is at any time
// either in the ring (the kernel may pick it) or lent to the caller (named
// by a CQE). The caller returns a lent buffer with Recycle once it has
// consumed the data. When every buffer is lent, receives on the group end
// with -ENOBUFS.
//
// A BufRing belongs to its Ring and has the same owner; Ring.Close frees
// it.
type BufRing struct {
	r     *Ring
	group uint16
	mask  uint16
	size  int
	ring  []byte    // the ring of ringBuf entries (mmap)
	bufs  []ringBuf // view of ring
	data  []byte    // the buffers, size bytes each (mmap)
	tail  uint16    // local tail: slots filled so far
	freed bool
}

// NewBufRing registers a buffer ring for group with entries buffers (a
// power of two, at most 32768) of size bytes each, all initially in the
// ring.
func (r *Ring) NewBufRing(group uint16, entries int, size int) (*BufRing, error) {
	if entries <= 0 || entries > 1<<15 || entries&(entries-1) != 0 || size <= 0 {
		return nil, os.NewSyscallError("io_uring_register", unix.EINVAL)
	}
	b := &BufRing{r: r, group: group, mask: uint16(entries - 1), size: size}
	var err error
	if b.ring, err = mmapAnon(entries * int(unsafe.Sizeof(ringBuf{}))); err != nil {
		return nil, err
	}
	if b.data, err = mmapAnon(entries * size); err != nil {
		unix.Munmap(b.ring)
		return nil, err
	}
	b.bufs = unsafe.Slice((*ringBuf)(unsafe.Pointer(&b.ring[0])), entries)
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&b.ring[0]))), ringEntries: uint32(entries), bgid: group}
	if _, err := register(r.fd, registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(b.ring)
		unix.Munmap(b.data)
		return nil, err
	}
	for i := 0; i < entries; i++ {
		b.Add(uint16(i))
	}
	b.Publish()
	r.bufRings = append(r.bufRings, b)
	return b, nil
}

// Group returns the buffer group ID to pass to PrepRecvMultishot.
func (b *BufRing) Group() uint16 { return b.group }

// Size returns the size of each buffer.
func (b *BufRing) Size() int { return b.size }

// Bytes returns the first n bytes of buffer id, as named by a CQE. The
// slice aliases mmap memory: it is valid until the buffer is recycled, and
// must not be retained after that.
func (b *BufRing) Bytes(id uint16, n int) []byte {
	off := int(id) * b.size
	return b.data[off : off+n : off+b.size]
}

// Add puts buffer id back in the ring without publishing it; Publish
// makes every added buffer visible to the kernel at once.
func (b *BufRing) Add(id uint16) {
	e := &b.bufs[b.tail&b.mask]
	e.addr = uint64(uintptr(unsafe.Pointer(&b.data[int(id)*b.size])))
	e.len = uint32(b.size)
	e.bid = id
	b.tail++
}

// Publish makes the buffers added since the last Publish available to the
// kernel.
func (b *BufRing) Publish() {
	// The ring's tail is a 16-bit field overlaying resv of entry 0
	// (struct io_uring_buf_ring), and the kernel reads it with
	// smp_load_acquire. Go has no 16-bit atomics, so the release store is a
	// 32-bit atomic store of the aligned word that holds entry 0's bid and
	// the tail. The bid half is rewritten with the value it already holds,
	// read here: only we write entry 0, and we change it only in Add, while
	// the kernel is done with that slot, so the kernel sees the same bid
	// before and after. The store is a release (Go's atomics are
	// sequentially consistent): the entries written by Add before it are
	// visible to the kernel before the new tail is.
	w := (*[2]uint16)(unsafe.Pointer(&b.bufs[0].bid))
	v := [2]uint16{w[0], b.tail}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(w)), *(*uint32)(unsafe.Pointer(&v)))
}

// Recycle returns buffer id to the kernel: Add and Publish.
func (b *BufRing) Recycle(id uint16) {
	b.Add(id)
	b.Publish()
}

// free unregisters the ring and unmaps its memory. The Ring has cancelled
// every request first, so no receive is writing into the buffers.
func (b *BufRing) free() error {
	if b.freed {
		return nil
	}
	b.freed = true
	reg := bufReg{bgid: b.group}
	_, err := register(b.r.fd, unregisterPbufRing, unsafe.Pointer(&reg), 1)
	if e := unix.Munmap(b.ring); e != nil && err == nil {
		err = e
	}
	if e := unix.Munmap(b.data); e != nil && err == nil {
		err = e
	}
	b.bufs, b.ring, b.data = nil, nil, nil
	return err
}

// CancelSync cancels the request whose user data is target and returns
// once it has completed, or after timeout (IORING_REGISTER_SYNC_CANCEL,
// 6.0+). The kernel frees a cancelled request, and with it the request's
// reference to its file, only after the request's completion work has run
// on the thread that submitted it; an asynchronous cancel returns before
// that, and can even fail with EALREADY while that work is running. It
// returns nil if a request was cancelled and an error wrapping ENOENT if
// none matched (it had completed already). Like Notify, it may be called
// while another goroutine uses the ring's owner methods.
func (r *Ring) CancelSync(target uint64, timeout time.Duration) error {
	reg := syncCancelReg{addr: target, fd: -1, timeout: unix.NsecToTimespec(int64(timeout))}
	_, err := register(r.fd, registerSyncCancel, unsafe.Pointer(&reg), 1)
	return err
}
