package fs

import (
	"os"
	"runtime/debug"
	"sync"

	"github.com/smolgo/smol"
)

// opKind is what an operation of a File does.
type opKind uint8

const (
	opRead opKind = iota
	opWrite
	opSeek
	opReadAt
	opWriteAt
	opSync
	opTruncate
	opStat
	opChmod
	opReadDir
	opClose
)

var opNames = [...]string{"read", "write", "seek", "read", "write", "sync", "truncate", "stat", "chmod", "readdirent", "close"}

func (k opKind) name() string { return opNames[k] }

// waitOp is how a task waiting for the operation shows in a task dump.
func (k opKind) waitOp() smol.WaitOp {
	switch k {
	case opRead, opReadAt, opReadDir:
		return smol.WaitRead
	case opWrite, opWriteAt:
		return smol.WaitWrite
	}
	return smol.WaitBlocking
}

// The states of an op. The drain job moves it from queued to running
// (start) and from running to done (finish); Discard moves it from queued
// or running to dropped. A dropped op that was queued is skipped; one that
// was running runs to its end and its result is dropped.
const (
	opQueued uint8 = iota
	opRunning
	opDone
	opDropped
)

// op is one operation of a File, and the future of its result. The typed
// futures below (intOp, int64Op, ...) are the op seen through the result
// type of its method.
type op struct {
	f      *File
	kind   opKind
	p      []byte // a read's destination, the caller's
	buf    []byte // a read's data, or a copy of a write's
	off    int64  // offset, new size, or ReadDir's count
	whence int
	mode   os.FileMode

	// Results, written by the drain job before finish.
	n       int
	pos     int64
	info    os.FileInfo
	entries []os.DirEntry
	err     error
	pnc     *smol.PanicError

	mu     sync.Mutex // guards state and w
	state  uint8
	copied bool // a read's buf was copied to p (by the poll that saw it done)
	w      smol.Waker
}

// start moves a queued op to running; it reports false for one that was
// dropped, whose buffer it releases.
func (o *op) start() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == opDropped {
		o.releaseBuf()
		return false
	}
	o.state = opRunning
	return true
}

// finish marks a running op done and wakes its waiter, or releases what a
// dropped one holds.
func (o *op) finish() {
	o.mu.Lock()
	if o.state == opDropped {
		o.releaseBuf()
		o.mu.Unlock()
		return
	}
	o.state = opDone
	w := o.w
	o.w = nil
	o.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

func (o *op) releaseBuf() {
	if o.buf != nil {
		putBuf(o.buf)
		o.buf = nil
	}
}

// runGuarded runs the op, turning a panic into the op's result.
func (o *op) runGuarded() {
	defer func() {
		if r := recover(); r != nil {
			o.pnc = &smol.PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	o.run()
}

// run makes the system call; it runs on the drain job's goroutine.
func (o *op) run() {
	f := o.f
	// Every op but these gives the read-ahead back first, so that it sees
	// the position an os.File would have.
	switch o.kind {
	case opRead, opReadAt, opStat, opSync:
	case opClose:
		f.raData, f.ra = nil, nil
	default:
		if err := f.unread(); err != nil {
			o.err = f.pathErr("seek", err)
			return
		}
	}
	switch o.kind {
	case opRead:
		o.n, o.err = f.read(o.buf)
	case opWrite:
		o.n, o.err = f.f.Write(o.buf)
	case opSeek:
		o.pos, o.err = f.f.Seek(o.off, o.whence)
	case opReadAt:
		o.n, o.err = f.f.ReadAt(o.buf, o.off)
	case opWriteAt:
		o.n, o.err = f.f.WriteAt(o.buf, o.off)
	case opSync:
		o.err = f.f.Sync()
	case opTruncate:
		o.err = f.f.Truncate(o.off)
	case opStat:
		o.info, o.err = f.f.Stat()
	case opChmod:
		o.err = f.f.Chmod(o.mode)
	case opReadDir:
		o.entries, o.err = f.f.ReadDir(int(o.off))
	case opClose:
		o.err = f.f.Close()
	}
	if o.kind == opWrite || o.kind == opWriteAt {
		o.releaseBuf()
	}
}

// read is a Read on the drain job: from the read-ahead bytes first, then
// from the file, reading ahead if the file is regular and what is left to
// read is small. Like a read(2) of a regular file, it fills p unless it
// reaches the end of the file.
func (f *File) read(p []byte) (int, error) {
	n := copy(p, f.raData)
	f.raData = f.raData[n:]
	rest := p[n:]
	if len(rest) == 0 {
		return n, nil
	}
	var m int
	var err error
	if len(rest) >= raSize || !f.readsAhead() {
		m, err = f.f.Read(rest)
	} else {
		if f.ra == nil {
			f.ra = make([]byte, raSize)
		}
		var k int
		k, err = f.f.Read(f.ra)
		m = copy(rest, f.ra[:k])
		f.raData = f.ra[m:k]
	}
	if n+m > 0 {
		err = nil // an error after data comes back on the next read, as in os
	}
	return n + m, err
}

// poll is the common part of the typed futures: ready once the op is done.
func (o *op) poll(cx *smol.Context) bool {
	if !cx.Proceed() {
		return false
	}
	o.mu.Lock()
	if o.state != opDone {
		o.w = cx.Waker()
		o.mu.Unlock()
		cx.WaitingOn(o.f, o.kind.waitOp())
		return false
	}
	if !o.copied && o.p != nil {
		// A read: hand the data over, once.
		copy(o.p, o.buf[:o.n])
		o.copied = true
		o.releaseBuf()
	}
	o.mu.Unlock()
	if o.pnc != nil {
		panic(o.pnc)
	}
	return true
}

// discard drops the op: withdrawn if it has not started, its result
// dropped if it is running.
func (o *op) discard() {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.state {
	case opQueued, opRunning:
		o.state = opDropped
		o.w = nil
	case opDone:
		o.releaseBuf()
	}
}

type intOp struct{ o *op }

// Poll is ready with the count of bytes read or written.
func (f intOp) Poll(cx *smol.Context) (int, bool, error) {
	if !f.o.poll(cx) {
		return 0, false, nil
	}
	return f.o.n, true, f.o.err
}

// Discard withdraws the op if it has not started.
func (f intOp) Discard() { f.o.discard() }

type int64Op struct{ o *op }

// Poll is ready with the new offset.
func (f int64Op) Poll(cx *smol.Context) (int64, bool, error) {
	if !f.o.poll(cx) {
		return 0, false, nil
	}
	return f.o.pos, true, f.o.err
}

// Discard withdraws the op if it has not started.
func (f int64Op) Discard() { f.o.discard() }

type unitOp struct{ o *op }

// Poll is ready once the op is done.
func (f unitOp) Poll(cx *smol.Context) (struct{}, bool, error) {
	if !f.o.poll(cx) {
		return struct{}{}, false, nil
	}
	return struct{}{}, true, f.o.err
}

// Discard withdraws the op if it has not started.
func (f unitOp) Discard() { f.o.discard() }

type infoOp struct{ o *op }

// Poll is ready with the file's information.
func (f infoOp) Poll(cx *smol.Context) (os.FileInfo, bool, error) {
	if !f.o.poll(cx) {
		return nil, false, nil
	}
	return f.o.info, true, f.o.err
}

// Discard withdraws the op if it has not started.
func (f infoOp) Discard() { f.o.discard() }

type entriesOp struct{ o *op }

// Poll is ready with a batch of directory entries.
func (f entriesOp) Poll(cx *smol.Context) ([]os.DirEntry, bool, error) {
	if !f.o.poll(cx) {
		return nil, false, nil
	}
	return f.o.entries, true, f.o.err
}

// Discard withdraws the op if it has not started.
func (f entriesOp) Discard() { f.o.discard() }

// Buffers for reads and for copies of writes, in size classes from 4 KiB
// to 1 MiB, so that an op does not allocate one each time.
var bufClasses = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}

var bufPools [len(bufClasses)]sync.Pool

func getBuf(n int) []byte {
	for i, size := range bufClasses {
		if n <= size {
			if b, ok := bufPools[i].Get().(*[]byte); ok {
				return (*b)[:n]
			}
			return make([]byte, n, size)
		}
	}
	return make([]byte, n)
}

func putBuf(b []byte) {
	for i, size := range bufClasses {
		if cap(b) == size {
			b = b[:0]
			bufPools[i].Put(&b)
			return
		}
	}
}
