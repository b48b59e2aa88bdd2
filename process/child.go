package process

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/smolgo/smol"
)

// Child is a running (or exited, not yet closed) child process, returned by
// Cmd.Spawn. Its exit is a future (Status); its pipes are futures driven by
// the reactor; Kill and Signal act at once. Close it when done with it.
type Child struct {
	// Stdin, Stdout and Stderr are the parent's ends of the streams set
	// to Piped, and nil for the others.
	Stdin  *Writer
	Stdout *Reader
	Stderr *Reader

	p           *proc
	killOnClose bool

	mu      sync.Mutex // guards the pumps and closed
	in      *inPump    // stdin copied from an io.Reader, or nil
	out     []*outPump // stdout and stderr copied to io.Writers
	closed  bool
	cleanup runtime.Cleanup // closes a Child dropped without Close
}

// orphanArg is what the cleanup of a dropped Child needs; it must not
// point to the Child.
type orphanArg struct {
	p    *proc
	kill bool
}

// orphan hands the process of a closed or collected Child to the reaper,
// killing it first if asked to.
func orphan(a orphanArg) {
	if a.kill {
		a.p.signal(syscall.SIGKILL)
	}
	adopt(a.p)
}

// Pid returns the process id.
func (c *Child) Pid() int { return c.p.pid }

// String describes the child for task dumps: "process 123 (cat)".
func (c *Child) String() string { return c.p.name }

// Status returns a future that is ready with the exit status once the
// child has exited and been reaped, and once the streams given as an
// io.Reader or io.Writer (From, To) are copied to the end. A non-zero exit
// is a status, not a failure (see ExitStatus.Err); the future fails only
// if waiting itself fails (wait4's error, such as ECHILD if other code
// reaped the child), or with the error of copying a stream.
//
// Status does not close Stdin: a child that reads its stdin to the end
// (cat, gzip) exits only after Stdin is closed. Nor does it read Stdout
// or Stderr: a child blocked writing to a full pipe that nobody reads
// never exits. Any number of tasks may await Status at once; all get the
// same status. It may be awaited after Close too.
func (c *Child) Status() *StatusFuture { return &StatusFuture{c: c} }

// TryStatus reports the exit status if the child has exited, reaping it,
// without waiting: ok is false while it runs. Streams given as readers or
// writers are not copied by it.
func (c *Child) TryStatus() (status ExitStatus, ok bool, err error) {
	if !c.p.tryWait() {
		return ExitStatus{}, false, nil
	}
	return c.p.result()
}

// Kill sends SIGKILL to the child; see Signal.
func (c *Child) Kill() error { return c.Signal(syscall.SIGKILL) }

// Signal sends sig, which must be a syscall.Signal, to the child: through
// its pidfd on Linux, so that it cannot reach another process that reused
// the pid. It returns os.ErrProcessDone if the child has already exited.
func (c *Child) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("process: unsupported signal type")
	}
	return c.p.signal(s)
}

// Close releases the child: it closes Stdin, Stdout and Stderr, kills the
// process if the command had KillOnClose, and, if it has not been reaped
// yet, hands it to the package's reaper, which reaps it when it exits so
// that it does not stay a zombie (see the package documentation). Status
// still works after Close. A Child dropped without Close is closed the
// same way when the garbage collector finds it. Closing twice returns
// os.ErrClosed.
func (c *Child) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return os.ErrClosed
	}
	c.closed = true
	c.cleanup.Stop()
	if c.in != nil && !c.in.done {
		c.in.finish(nil)
	}
	for _, p := range c.out {
		if !p.done {
			p.finish(nil)
		}
	}
	c.mu.Unlock()
	c.closePiped()
	orphan(orphanArg{c.p, c.killOnClose})
	return nil
}

// closePiped closes the pipes of the streams set to Piped.
func (c *Child) closePiped() {
	if c.Stdin != nil {
		c.Stdin.Close()
	}
	if c.Stdout != nil {
		c.Stdout.Close()
	}
	if c.Stderr != nil {
		c.Stderr.Close()
	}
}

// pollPumps copies the streams given as readers and writers, and reports
// whether all are copied to the end, with the first error of copying.
func (c *Child) pollPumps(cx *smol.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	done := true
	var err error
	if c.in != nil {
		if !c.in.poll(cx) {
			done = false
		}
		err = c.in.err
	}
	for _, p := range c.out {
		if !p.poll(cx) {
			done = false
		}
		if err == nil {
			err = p.err
		}
	}
	return done, err
}

// StatusFuture is a wait for a child's exit, returned by Child.Status: a
// smol.Future of the ExitStatus, and a smol.Discarder.
type StatusFuture struct {
	c *Child
	w sigchldWait // used when exits are learnt from SIGCHLD
}

// Poll copies the streams given as readers and writers, and checks for the
// child's exit.
func (f *StatusFuture) Poll(cx *smol.Context) (ExitStatus, bool, error) {
	pumped, perr := f.c.pollPumps(cx)
	st, ok, err := f.c.p.pollExit(cx, &f.w)
	if !ok || !pumped {
		return ExitStatus{}, false, nil
	}
	runtime.KeepAlive(f.c) // not collected (and so killed) while awaited
	if err != nil {
		return st, true, err
	}
	return st, true, perr
}

// Discard gives up the wait's registrations. The child is not affected.
func (f *StatusFuture) Discard() { f.w.discard() }

// inPump copies an io.Reader into the child's stdin.
type inPump struct {
	w    *Writer
	r    io.Reader
	buf  []byte
	pend []byte // read, not yet written
	eof  bool
	idle int // reads in a row that returned nothing
	done bool
	err  error
}

// poll copies until the pipe is full or the reader is done; it reports
// whether the copy is over. A child that stops reading (EPIPE) ends the
// copy without an error, as in os/exec.
func (p *inPump) poll(cx *smol.Context) bool {
	for !p.done {
		if len(p.pend) == 0 && !p.eof {
			if p.buf == nil {
				p.buf = make([]byte, 32<<10)
			}
			n, err := p.r.Read(p.buf)
			p.pend = p.buf[:n]
			switch {
			case err == io.EOF:
				p.eof = true
			case err != nil:
				p.finish(err)
				return true
			case n == 0:
				if p.idle++; p.idle > 100 {
					p.finish(io.ErrNoProgress)
					return true
				}
				continue
			}
			p.idle = 0
		}
		if len(p.pend) == 0 {
			p.finish(nil) // eof and all written
			return true
		}
		n, ok, err := p.w.PollWrite(cx, p.pend)
		if !ok {
			return false
		}
		if err != nil {
			if errors.Is(err, syscall.EPIPE) {
				err = nil
			}
			p.finish(err)
			return true
		}
		p.pend = p.pend[n:]
	}
	return true
}

func (p *inPump) finish(err error) {
	p.done, p.err, p.buf, p.pend = true, err, nil, nil
	p.w.Close()
}

// outPump copies the child's stdout or stderr to an io.Writer.
type outPump struct {
	r    *Reader
	w    io.Writer
	buf  []byte
	done bool
	err  error
}

// poll copies until the pipe is empty or at end of file; it reports
// whether the copy is over. A writer that fails ends the copy, and the
// pipe is closed: the child's next write fails with EPIPE.
func (p *outPump) poll(cx *smol.Context) bool {
	for !p.done {
		if p.buf == nil {
			p.buf = make([]byte, 32<<10)
		}
		n, ok, err := p.r.PollRead(cx, p.buf)
		if !ok {
			return false
		}
		if n > 0 {
			if _, werr := p.w.Write(p.buf[:n]); werr != nil {
				p.finish(werr)
				return true
			}
		}
		if err == io.EOF {
			p.finish(nil)
		} else if err != nil {
			p.finish(err)
		}
	}
	return true
}

func (p *outPump) finish(err error) {
	p.done, p.err, p.buf = true, err, nil
	p.r.Close()
}
