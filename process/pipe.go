package process

import (
	"io"
	"os"
	"runtime"

	"github.com/smolgo/smol"
)

// pipe is the parent's end of one of a child's standard streams: a
// non-blocking descriptor registered with the reactor (a smol.FD marked as
// a stream).
type pipe struct {
	fd   *smol.FD
	name string // "stdout of process 123 (cat)", for errors and dumps
}

// newPipe registers fd, the parent's end of a pipe. On error fd is closed.
func newPipe(fd int, name string) (*pipe, error) {
	f, err := smol.NewFD(fd)
	if err != nil {
		closeFd(fd)
		return nil, err
	}
	f.SetStream()
	return &pipe{fd: f, name: name}, nil
}

func (p *pipe) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: p.name, Err: err}
}

func (p *pipe) close() error {
	if err := p.fd.Close(); err != nil {
		return p.pathErr("close", err)
	}
	return nil
}

// Reader is the parent's end of a child's stdout or stderr, created by
// Spawn for a stream set to Piped. Its reads are futures driven by the
// reactor, like a smolnet connection's: no goroutine waits on it. One task
// should read a Reader at a time.
type Reader struct{ p *pipe }

func newReader(fd int, name string) (*Reader, error) {
	p, err := newPipe(fd, name)
	if err != nil {
		return nil, err
	}
	r := &Reader{p}
	runtime.AddCleanup(r, closeFD, p.fd)
	return r, nil
}

// closeFD closes the descriptor of a pipe that became unreachable.
func closeFD(fd *smol.FD) { fd.Close() }

// PollRead reads into p. It is pending while the pipe is empty, and ready
// with n > 0 bytes, with io.EOF once every writer of the pipe (the child
// and any process it passed the descriptor to) has closed it and all was
// read, or with an *os.PathError (os.ErrClosed after Close). An empty p is
// ready at once.
func (r *Reader) PollRead(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	n, ok, err = r.p.fd.PollRead(cx, p)
	switch {
	case !ok:
		cx.WaitingOn(r, smol.WaitRead)
		return 0, false, nil
	case err != nil:
		return 0, true, r.p.pathErr("read", err)
	case n == 0:
		return 0, true, io.EOF
	}
	return n, true, nil
}

// Read returns a future of one read into p; see PollRead. p must not be
// touched until the future is ready.
func (r *Reader) Read(p []byte) smol.Future[int] { return readFuture{r, p} }

// ReadAll returns a future that reads until end of file and is ready with
// everything read; on an error it fails with the error and what was read
// before it.
func (r *Reader) ReadAll() smol.Future[[]byte] { return &readAllFuture{r: r} }

// Close closes the parent's end of the pipe. A task waiting in a read is
// woken and fails with an error matching os.ErrClosed. A child still
// writing gets EPIPE (or dies of SIGPIPE, the default). Closing twice
// returns such an error.
func (r *Reader) Close() error { return r.p.close() }

// String describes the pipe for task dumps: "stdout of process 123 (cat)".
func (r *Reader) String() string { return r.p.name }

// Writer is the parent's end of a child's stdin, created by Spawn for a
// Stdin set to Piped. Its writes are futures driven by the reactor. Close it
// to give the child end of file.
type Writer struct{ p *pipe }

func newWriter(fd int, name string) (*Writer, error) {
	p, err := newPipe(fd, name)
	if err != nil {
		return nil, err
	}
	w := &Writer{p}
	runtime.AddCleanup(w, closeFD, p.fd)
	return w, nil
}

// PollWrite writes from p as much as the pipe takes at once, which may be
// less than len(p). It is pending while the pipe is full (the child is not
// reading). A write after the child closed its end fails with an
// *os.PathError whose Err is EPIPE; no SIGPIPE is raised.
func (w *Writer) PollWrite(cx *smol.Context, p []byte) (n int, ok bool, err error) {
	if len(p) == 0 {
		return 0, true, nil
	}
	n, ok, err = w.p.fd.PollWrite(cx, p)
	switch {
	case !ok:
		cx.WaitingOn(w, smol.WaitWrite)
		return 0, false, nil
	case err != nil:
		return 0, true, w.p.pathErr("write", err)
	}
	return n, true, nil
}

// Write returns a future of one write from p, which may be short; see
// PollWrite. p must not be touched until the future is ready.
func (w *Writer) Write(p []byte) smol.Future[int] { return writeFuture{w, p} }

// WriteAll returns a future that writes all of p, in as many writes as it
// takes. It is ready with len(p), or fails with the first error and the
// count written before it.
func (w *Writer) WriteAll(p []byte) smol.Future[int] { return &writeAllFuture{w: w, p: p} }

// Close closes the pipe: the child reads end of file once it has read what
// was written. A task waiting in a write fails with an error matching
// os.ErrClosed. Closing twice returns such an error.
func (w *Writer) Close() error { return w.p.close() }

// String describes the pipe for task dumps: "stdin of process 123 (cat)".
func (w *Writer) String() string { return w.p.name }

type readFuture struct {
	r *Reader
	p []byte
}

// Poll is one PollRead.
func (f readFuture) Poll(cx *smol.Context) (int, bool, error) { return f.r.PollRead(cx, f.p) }

type writeFuture struct {
	w *Writer
	p []byte
}

// Poll is one PollWrite.
func (f writeFuture) Poll(cx *smol.Context) (int, bool, error) { return f.w.PollWrite(cx, f.p) }

type writeAllFuture struct {
	w *Writer
	p []byte
	n int
}

// Poll writes until p is written, the pipe is full, or an error.
func (f *writeAllFuture) Poll(cx *smol.Context) (int, bool, error) {
	for f.n < len(f.p) {
		n, ok, err := f.w.PollWrite(cx, f.p[f.n:])
		if !ok {
			return 0, false, nil
		}
		f.n += n
		if err != nil {
			return f.n, true, err
		}
	}
	return f.n, true, nil
}

type readAllFuture struct {
	r   *Reader
	buf []byte
}

// Poll reads until end of file, the pipe is empty, or an error.
func (f *readAllFuture) Poll(cx *smol.Context) ([]byte, bool, error) {
	for {
		if len(f.buf) == cap(f.buf) {
			nb := make([]byte, len(f.buf), max(4096, 2*cap(f.buf)))
			copy(nb, f.buf)
			f.buf = nb
		}
		n, ok, err := f.r.PollRead(cx, f.buf[len(f.buf):cap(f.buf)])
		if !ok {
			return nil, false, nil
		}
		f.buf = f.buf[:len(f.buf)+n]
		if err == io.EOF {
			return f.buf, true, nil
		}
		if err != nil {
			return f.buf, true, err
		}
	}
}
