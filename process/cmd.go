package process

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// Cmd describes a command to run, as os/exec's Cmd does. Build it with
// Command, set its fields, then Spawn it (or await Status, Output or
// CombinedOutput). A Cmd is not changed by Spawn and may be spawned again.
type Cmd struct {
	// Path is the program to run: the result of os/exec's LookPath for a
	// name without a slash, as Command sets it.
	Path string
	// Args holds the arguments, the command's name first, as in os/exec.
	// Empty means just Path.
	Args []string
	// Env is the environment, each entry "key=value". Nil means the
	// environment of this process (os.Environ()).
	Env []string
	// Dir is the working directory of the child; empty means this
	// process's.
	Dir string
	// Stdin, Stdout and Stderr say where the child's standard streams
	// go: Null (the zero value: the null device), Inherit, Piped, or a
	// file, reader or writer given with From and To.
	Stdin, Stdout, Stderr Stdio
	// SysProcAttr holds optional, operating-system-specific attributes,
	// such as Setpgid, passed to syscall.ForkExec. On Linux its PidFD is
	// replaced by the package's own.
	SysProcAttr *syscall.SysProcAttr
	// KillOnClose makes Child.Close, and the garbage collection of a
	// Child that was dropped without Close, kill the process (SIGKILL) if
	// it has not exited yet.
	KillOnClose bool
	// Err is the error of looking up the program, as in os/exec: Spawn
	// returns it.
	Err error
}

// Command returns a Cmd that runs name with the given arguments, looking
// name up as os/exec.Command does: a name without a path separator is
// searched for in the directories of $PATH (exec.LookPath, whose errors,
// exec.ErrNotFound and exec.ErrDot, end up in Err).
func Command(name string, arg ...string) *Cmd {
	c := &Cmd{Path: name, Args: append([]string{name}, arg...)}
	if filepath.Base(name) == name {
		lp, err := exec.LookPath(name)
		if lp != "" {
			c.Path = lp
		}
		if err != nil {
			c.Err = err
		}
	}
	return c
}

// String returns the command line: the path and the arguments after the
// first, separated by spaces, as os/exec's Cmd.String does.
func (c *Cmd) String() string {
	b := new(strings.Builder)
	b.WriteString(c.Path)
	for _, a := range c.args()[1:] {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	return b.String()
}

func (c *Cmd) args() []string {
	if len(c.Args) == 0 {
		return []string{c.Path}
	}
	return c.Args
}

// stdioKind is where a standard stream goes.
type stdioKind uint8

const (
	stdioDefault stdioKind = iota // the null device
	stdioNull
	stdioInherit
	stdioPiped
	stdioFile   // an *os.File, given to the child as is
	stdioReader // an io.Reader copied to a pipe (stdin)
	stdioWriter // an io.Writer a pipe is copied to (stdout, stderr)
)

// Stdio says where one of a child's standard streams goes. The zero value
// is Null.
type Stdio struct {
	kind stdioKind
	f    *os.File
	r    io.Reader
	w    io.Writer
}

// Null connects the stream to the null device (os.DevNull).
func Null() Stdio { return Stdio{kind: stdioNull} }

// Inherit gives the child this process's own stream (descriptor 0, 1 or 2).
func Inherit() Stdio { return Stdio{kind: stdioInherit} }

// Piped connects the stream to a pipe whose other end the Child holds, as
// Child.Stdin, Child.Stdout or Child.Stderr: non-blocking and driven by the
// reactor.
func Piped() Stdio { return Stdio{kind: stdioPiped} }

// From makes r the child's stdin. An *os.File is given to the child as its
// descriptor, as os/exec does, and nothing is copied. Any other reader is
// copied into a pipe by the futures that wait for the child (Child.Status,
// Cmd.Status, Output), with no goroutine: its Read is called inside their
// polls, so it must not block. A bytes.Reader, strings.Reader or
// bytes.Buffer suits; for a reader that blocks, use Piped and copy in a
// task of your own, or an *os.File.
func From(r io.Reader) Stdio {
	if f, ok := r.(*os.File); ok {
		return Stdio{kind: stdioFile, f: f}
	}
	return Stdio{kind: stdioReader, r: r}
}

// To makes w the child's stdout or stderr. An *os.File is given to the
// child as its descriptor, as os/exec does. Any other writer receives what
// the child writes, copied from a pipe by the futures that wait for the
// child (Child.Status, Cmd.Status, Output) inside their polls, with no
// goroutine: its Write must not block (a bytes.Buffer, a strings.Builder).
// The same writer may be given for stdout and stderr.
func To(w io.Writer) Stdio {
	if f, ok := w.(*os.File); ok {
		return Stdio{kind: stdioFile, f: f}
	}
	return Stdio{kind: stdioWriter, w: w}
}

var streamNames = [3]string{"stdin", "stdout", "stderr"}

// Spawn starts the command and returns its Child. It forks and execs on
// the calling goroutine, as os/exec's Start and Rust's async-process do:
// syscall.ForkExec returns once the child has called exec (see Costs in the
// package documentation for what that takes).
//
// It fails with Cmd.Err if the program was not found; with an
// *os.PathError whose Op is "chdir" if Dir cannot be used, or "fork/exec"
// if the program could not be started (its Err says why:
// syscall.ENOENT, EACCES, ...); or with the error of a stream that was
// set wrong.
func (c *Cmd) Spawn() (child *Child, err error) {
	if c.Err != nil {
		return nil, c.Err
	}
	if c.Path == "" {
		return nil, &exec.Error{Name: "", Err: exec.ErrNotFound}
	}
	if c.Dir != "" {
		// As os.StartProcess does: a clear error rather than ENOENT from
		// the child, which would blame the program.
		if _, err := os.Stat(c.Dir); err != nil {
			pe := err.(*os.PathError)
			pe.Op = "chdir"
			return nil, pe
		}
	}

	// The descriptors: files[i] is what the child gets as descriptor i;
	// the child's ends of pipes and the null device are closed here once
	// it has them; parent[i] is our end of a pipe, or -1.
	var files [3]uintptr
	parent := [3]int{-1, -1, -1}
	var childEnds []int
	defer func() {
		for _, fd := range childEnds {
			closeFd(fd)
		}
		if err != nil {
			for _, fd := range parent {
				if fd >= 0 {
					closeFd(fd)
				}
			}
		}
	}()
	stdio := [3]Stdio{c.Stdin, c.Stdout, c.Stderr}
	for i, s := range stdio {
		switch s.kind {
		case stdioDefault, stdioNull:
			fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				return nil, &os.PathError{Op: "open", Path: os.DevNull, Err: err}
			}
			childEnds = append(childEnds, fd)
			files[i] = uintptr(fd)
		case stdioInherit:
			files[i] = uintptr(i)
		case stdioFile:
			if s.f == nil {
				return nil, errors.New("process: " + streamNames[i] + " is a nil *os.File")
			}
			files[i] = s.f.Fd()
		case stdioReader, stdioWriter, stdioPiped:
			if (s.kind == stdioReader && i != 0) || (s.kind == stdioWriter && i == 0) {
				return nil, errors.New("process: " + streamNames[i] + " set with the wrong one of From and To")
			}
			if (s.kind == stdioReader && s.r == nil) || (s.kind == stdioWriter && s.w == nil) {
				return nil, errors.New("process: " + streamNames[i] + " set to a nil reader or writer")
			}
			var p [2]int
			if err := pipe2(p[:]); err != nil {
				return nil, os.NewSyscallError("pipe2", err)
			}
			if i == 0 {
				childEnds, parent[i] = append(childEnds, p[0]), p[1]
				files[i] = uintptr(p[0])
			} else {
				childEnds, parent[i] = append(childEnds, p[1]), p[0]
				files[i] = uintptr(p[1])
			}
		default:
			return nil, errors.New("process: bad Stdio for " + streamNames[i])
		}
	}

	// Fork and exec, asking for a pidfd on Linux.
	sys, pidfd := pidfdAttr(c.SysProcAttr)
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	pid, err := syscall.ForkExec(c.Path, c.args(), &syscall.ProcAttr{Dir: c.Dir, Env: env, Files: files[:], Sys: sys})
	for _, s := range stdio {
		runtime.KeepAlive(s.f) // its descriptor was in files
	}
	if err != nil {
		return nil, &os.PathError{Op: "fork/exec", Path: c.Path, Err: err}
	}

	// Learn of its exit from the pidfd if there is one, else from
	// SIGCHLD. The first wait4 comes after this, so an exit before the
	// SIGCHLD stream opened is not missed.
	var pfd *smol.FD
	if *pidfd >= 0 {
		if pfd, err = smol.NewFD(*pidfd); err != nil {
			closeFd(*pidfd)
			pfd = nil
		}
	}
	if pfd == nil {
		chldAcquire()
	}
	child = &Child{p: newProc(pid, c.Path, pfd), killOnClose: c.KillOnClose}
	child.cleanup = runtime.AddCleanup(child, orphan, orphanArg{child.p, c.KillOnClose})

	// Our ends of the pipes.
	for i, s := range stdio {
		if parent[i] < 0 {
			continue
		}
		name := streamNames[i] + " of " + child.p.name
		fd := parent[i]
		parent[i] = -1 // owned by newReader or newWriter from here on
		if i == 0 {
			w, err := newWriter(fd, name)
			if err != nil {
				child.Close()
				return nil, err
			}
			if s.kind == stdioPiped {
				child.Stdin = w
			} else {
				child.in = &inPump{w: w, r: s.r}
			}
			continue
		}
		r, err := newReader(fd, name)
		if err != nil {
			child.Close()
			return nil, err
		}
		switch {
		case s.kind != stdioPiped:
			child.out = append(child.out, &outPump{r: r, w: s.w})
		case i == 1:
			child.Stdout = r
		default:
			child.Stderr = r
		}
	}
	return child, nil
}

// Status returns a future that spawns the command, waits for it to exit,
// and is ready with its exit status (a non-zero exit is a status, not a
// failure: see ExitStatus.Err). It fails with Spawn's error. The spawn
// happens now, in this call; the standard streams the command set to
// Piped are closed unread (use Spawn to read them).
func (c *Cmd) Status() smol.Future[ExitStatus] {
	child, err := c.Spawn()
	if err != nil {
		return smol.Failed[ExitStatus](err)
	}
	child.closePiped()
	return &cmdStatusFuture{child: child, status: child.Status()}
}

type cmdStatusFuture struct {
	child  *Child
	status *StatusFuture
}

// Poll waits for the child, then closes it.
func (f *cmdStatusFuture) Poll(cx *smol.Context) (ExitStatus, bool, error) {
	st, ok, err := f.status.Poll(cx)
	if ok {
		f.child.Close()
	}
	return st, ok, err
}

// Discard gives up waiting: the child is closed (and killed if
// KillOnClose is set), and reaped in the background when it exits.
func (f *cmdStatusFuture) Discard() {
	f.status.Discard()
	f.child.Close()
}

// Output returns a future that spawns the command, collects its standard
// output until the child exits and closes it, and is ready with it, as
// os/exec's Output does. If Stderr is not set, standard error is collected
// too, into the ExitError. If the command does not succeed, the future
// fails with an *ExitError and the output collected. It fails at once if
// Stdout is already set, or with Spawn's error. The spawn happens now, in
// this call; the copying happens while the future is polled. Dropped
// before it is ready, the future leaves the child running, reaped in the
// background when it exits (killed at once if KillOnClose is set and the
// future is discarded).
func (c *Cmd) Output() smol.Future[[]byte] {
	if c.Stdout.kind != stdioDefault {
		return smol.Failed[[]byte](errors.New("process: Stdout already set"))
	}
	cc := *c
	f := &outputFuture{}
	cc.Stdout = To(&f.out)
	if c.Stderr.kind == stdioDefault {
		f.errb = new(bytes.Buffer)
		cc.Stderr = To(f.errb)
	}
	return f.start(&cc)
}

// CombinedOutput returns a future that spawns the command and collects its
// standard output and standard error together, as os/exec's
// CombinedOutput does; see Output. It fails at once if Stdout or Stderr is
// already set.
func (c *Cmd) CombinedOutput() smol.Future[[]byte] {
	if c.Stdout.kind != stdioDefault {
		return smol.Failed[[]byte](errors.New("process: Stdout already set"))
	}
	if c.Stderr.kind != stdioDefault {
		return smol.Failed[[]byte](errors.New("process: Stderr already set"))
	}
	cc := *c
	f := &outputFuture{}
	cc.Stdout, cc.Stderr = To(&f.out), To(&f.out)
	return f.start(&cc)
}

type outputFuture struct {
	child  *Child
	status *StatusFuture
	out    bytes.Buffer
	errb   *bytes.Buffer
}

func (f *outputFuture) start(c *Cmd) smol.Future[[]byte] {
	child, err := c.Spawn()
	if err != nil {
		return smol.Failed[[]byte](err)
	}
	child.closePiped()
	f.child, f.status = child, child.Status()
	return f
}

// Poll waits for the child and its output, then closes it.
func (f *outputFuture) Poll(cx *smol.Context) ([]byte, bool, error) {
	st, ok, err := f.status.Poll(cx)
	if !ok {
		return nil, false, nil
	}
	f.child.Close()
	if err == nil && !st.Success() {
		ee := &ExitError{Status: st}
		if f.errb != nil {
			ee.Stderr = f.errb.Bytes()
		}
		err = ee
	}
	return f.out.Bytes(), true, err
}

// Discard gives up waiting; see Cmd.Output.
func (f *outputFuture) Discard() {
	f.status.Discard()
	f.child.Close()
}

func closeFd(fd int) { unix.Close(fd) }
