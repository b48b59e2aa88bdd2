package fs

import (
	"io"
	"os"
	"sync"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
)

// File is an open file whose operations are futures run on the blocking
// pool (blocking.Unblock): a regular file cannot be polled, so every read,
// write, seek and sync is a blocking system call made by a pool goroutine.
//
// # Order
//
// Each method submits its operation to the File's queue when it is called,
// not when its future is first polled, and the File runs its queue one
// operation at a time, in submission order, on one pool goroutine: a File
// never has two system calls in flight. So
//
//	f.Write(header)
//	f.SeekTo(0, io.SeekStart)
//	n, err := smol.Run(ex, f.Read(buf))
//
// writes, then seeks, then reads, whichever of the futures are awaited and
// in whatever order. A method of the os.File name used as a statement, its
// future dropped, still does its work in its turn; only its result is lost.
// Write and WriteAt copy p before they return, so p may be reused at once;
// Read and ReadAt fill p when their future is polled ready, from a buffer
// of the File's, so a read that is dropped never writes to p.
//
// # Dropped and discarded operations
//
// A future discarded (smol.Discard, a Timeout that ran out, a canceled
// task) before its operation started withdraws it: it never runs, and the
// file and its position are as if it had not been submitted. An operation
// that has started runs to its end, since a blocking call cannot be
// interrupted; its effect stands (a read or write moves the position by
// what it transferred, as it would have in os) and its result is
// discarded. Either way the position is that of the operations that ran,
// in order, never a mix.
//
// # Read-ahead
//
// A Read of less than 64 KiB from a regular file reads 64 KiB, and the
// bytes beyond what it asked for are kept: a later Read made while the
// File is idle is served from them at once, on the calling goroutine,
// without a trip to the pool (go test -bench ReadSeq ./fs measures it:
// see the package documentation). Any operation other than Read, ReadAt,
// Stat and Sync first gives the kept bytes back (an lseek of the
// position back by their count), so writes, seeks and truncation see the
// position a plain os.File would have. Bytes kept are not re-read: a
// change made to the file by another writer after they were read is not
// seen by Read until they are used up, as with a bufio.Reader.
//
// A File is safe for use by any number of tasks and goroutines.
type File struct {
	f    *os.File
	name string

	mu      sync.Mutex
	queue   []*op // submitted, not started
	running bool  // a drain job is on the pool (or queued to it)
	closed  bool  // Close was called

	// The read-ahead, touched only by the drain job while running is
	// set, and under mu while it is not.
	kind   fileKind
	ra     []byte // the buffer, raSize bytes once a Read needed it
	raData []byte // the bytes of ra not yet used: the file's content just before its kernel position
}

// fileKind says whether a File reads ahead.
type fileKind uint8

const (
	kindUnknown fileKind = iota // not checked yet
	kindRegular                 // reads ahead
	kindOther                   // a pipe, device, directory...: does not
)

// raSize is the size of a read-ahead read; a variable for the benchmarks.
var raSize = 64 << 10

// NewFile returns a File that runs f's operations; the File owns f from
// then on: do not use f directly, and close the File, not f.
func NewFile(f *os.File) *File {
	return &File{f: f, name: f.Name()}
}

// Name returns the name of the file as given to Open.
func (f *File) Name() string { return f.name }

// String describes the file for task dumps: "file /tmp/x".
func (f *File) String() string { return "file " + f.name }

func (f *File) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: f.name, Err: err}
}

// submit queues o and starts a drain job if none is running. On a closed
// File o fails at once.
func (f *File) submit(o *op) {
	f.mu.Lock()
	if f.closed && o.kind != opClose {
		f.mu.Unlock()
		o.err = f.pathErr(o.kind.name(), os.ErrClosed)
		o.releaseBuf()
		o.state = opDone
		return
	}
	f.queue = append(f.queue, o)
	start := !f.running
	f.running = true
	f.mu.Unlock()
	if start {
		// The job runs to its end whether or not anyone awaits it: the
		// ops report their own results. Its future is not needed.
		_ = blocking.Unblock(func() (struct{}, error) {
			f.drain()
			return struct{}{}, nil
		})
	}
}

// drain runs the queue until it is empty.
func (f *File) drain() {
	for {
		f.mu.Lock()
		if len(f.queue) == 0 {
			f.running = false
			f.mu.Unlock()
			return
		}
		o := f.queue[0]
		f.queue[0] = nil
		f.queue = f.queue[1:]
		f.mu.Unlock()
		if o.start() {
			o.runGuarded()
			o.finish()
		}
	}
}

// unread gives the read-ahead bytes back: the kernel position moves back to
// the logical one. Only the drain job calls it.
func (f *File) unread() error {
	if len(f.raData) == 0 {
		return nil
	}
	back := int64(len(f.raData))
	f.raData = nil
	_, err := f.f.Seek(-back, io.SeekCurrent)
	return err
}

// readsAhead reports whether reads of this File read ahead; only the drain
// job calls it.
func (f *File) readsAhead() bool {
	if f.kind == kindUnknown {
		f.kind = kindOther
		if fi, err := f.f.Stat(); err == nil && fi.Mode().IsRegular() {
			f.kind = kindRegular
		}
	}
	return f.kind == kindRegular
}

// Read returns a future of one read into p, ready with the count read, or
// failing with the *os.PathError os returns; at end of file it fails with
// io.EOF and 0, as os.File's Read does. p is filled when the future is
// polled ready; do not touch it until then. If the File is idle and holds
// enough read-ahead bytes, the read is served from them in this call.
func (f *File) Read(p []byte) smol.Future[int] {
	f.mu.Lock()
	if !f.running && !f.closed && len(p) > 0 && len(f.raData) >= len(p) {
		n := copy(p, f.raData)
		f.raData = f.raData[n:]
		f.mu.Unlock()
		return readAheadHit(n)
	}
	f.mu.Unlock()
	o := &op{f: f, kind: opRead, p: p, buf: getBuf(len(p))}
	f.submit(o)
	return intOp{o}
}

// readAheadHit is the future of a Read served from the read-ahead bytes:
// ready with the count (after spending a unit of budget, as every poll of
// an I/O future does).
type readAheadHit int

// Poll is ready with the count.
func (n readAheadHit) Poll(cx *smol.Context) (int, bool, error) {
	if !cx.Proceed() {
		return 0, false, nil
	}
	return int(n), true, nil
}

// Write returns a future of a write of all of p, ready with len(p) or
// failing with the *os.PathError os returns and the count written. Write
// copies p before it returns.
func (f *File) Write(p []byte) smol.Future[int] {
	o := &op{f: f, kind: opWrite, buf: getBuf(len(p))}
	copy(o.buf, p)
	f.submit(o)
	return intOp{o}
}

// WriteString is Write of the bytes of s.
func (f *File) WriteString(s string) smol.Future[int] {
	o := &op{f: f, kind: opWrite, buf: getBuf(len(s))}
	copy(o.buf, s)
	f.submit(o)
	return intOp{o}
}

// SeekTo returns a future of a seek, ready with the new offset, as
// os.File's Seek; whence is io.SeekStart, io.SeekCurrent or io.SeekEnd. It
// is not called Seek because go vet requires a method of that name to have
// io.Seeker's signature; IOFile.Seek has it.
func (f *File) SeekTo(offset int64, whence int) smol.Future[int64] {
	o := &op{f: f, kind: opSeek, off: offset, whence: whence}
	f.submit(o)
	return int64Op{o}
}

// ReadAt returns a future of a read of len(p) bytes at offset off, which
// does not use or move the position; like os.File's ReadAt it fails (with
// io.EOF at end of file) when it reads fewer than len(p) bytes. p is
// filled when the future is polled ready.
func (f *File) ReadAt(p []byte, off int64) smol.Future[int] {
	o := &op{f: f, kind: opReadAt, p: p, buf: getBuf(len(p)), off: off}
	f.submit(o)
	return intOp{o}
}

// WriteAt returns a future of a write of p at offset off, which does not
// move the position. WriteAt copies p before it returns.
func (f *File) WriteAt(p []byte, off int64) smol.Future[int] {
	o := &op{f: f, kind: opWriteAt, buf: getBuf(len(p)), off: off}
	copy(o.buf, p)
	f.submit(o)
	return intOp{o}
}

// Sync returns a future of an fsync of the file: ready once what was
// written before it is on stable storage.
func (f *File) Sync() smol.Future[struct{}] {
	o := &op{f: f, kind: opSync}
	f.submit(o)
	return unitOp{o}
}

// Truncate returns a future that changes the size of the file, as
// os.File's Truncate.
func (f *File) Truncate(size int64) smol.Future[struct{}] {
	o := &op{f: f, kind: opTruncate, off: size}
	f.submit(o)
	return unitOp{o}
}

// Stat returns a future of the file's os.FileInfo.
func (f *File) Stat() smol.Future[os.FileInfo] {
	o := &op{f: f, kind: opStat}
	f.submit(o)
	return infoOp{o}
}

// Chmod returns a future that changes the file's mode, as os.File's Chmod.
func (f *File) Chmod(mode os.FileMode) smol.Future[struct{}] {
	o := &op{f: f, kind: opChmod, mode: mode}
	f.submit(o)
	return unitOp{o}
}

// Close closes the file. It returns at once: the operations submitted
// before it still run, in order, and then the descriptor is closed on the
// pool; every operation submitted after it fails at once with an
// *os.PathError whose Err is os.ErrClosed, and so does a second Close.
// Because close(2) runs later, its error is not reported: await Sync first
// to learn whether what was written reached the disk.
func (f *File) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.pathErr("close", os.ErrClosed)
	}
	f.closed = true
	f.mu.Unlock()
	f.submit(&op{f: f, kind: opClose})
	return nil
}

// IO returns a blocking view of f for code written for goroutines:
// io.Reader, io.Writer, io.Seeker, io.ReaderAt, io.WriterAt, io.Closer and
// io.StringWriter. Each call submits the operation and parks the calling
// goroutine in smol.BlockOn until it is done; do not call it from a task.
func (f *File) IO() *IOFile { return &IOFile{f} }

// IOFile is a File as the io interfaces, for goroutines; see File.IO.
type IOFile struct{ f *File }

var _ interface {
	io.ReadWriteSeeker
	io.ReaderAt
	io.WriterAt
	io.Closer
	io.StringWriter
} = (*IOFile)(nil)

// Read reads into p; see File.Read.
func (b *IOFile) Read(p []byte) (int, error) { return smol.BlockOn(b.f.Read(p)) }

// Write writes p; see File.Write.
func (b *IOFile) Write(p []byte) (int, error) { return smol.BlockOn(b.f.Write(p)) }

// WriteString writes s; see File.WriteString.
func (b *IOFile) WriteString(s string) (int, error) { return smol.BlockOn(b.f.WriteString(s)) }

// Seek sets the position; see File.SeekTo.
func (b *IOFile) Seek(offset int64, whence int) (int64, error) {
	return smol.BlockOn(b.f.SeekTo(offset, whence))
}

// ReadAt reads at off; see File.ReadAt.
func (b *IOFile) ReadAt(p []byte, off int64) (int, error) { return smol.BlockOn(b.f.ReadAt(p, off)) }

// WriteAt writes at off; see File.WriteAt.
func (b *IOFile) WriteAt(p []byte, off int64) (int, error) {
	return smol.BlockOn(b.f.WriteAt(p, off))
}

// Close closes the File; see File.Close.
func (b *IOFile) Close() error { return b.f.Close() }
