package process

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// proc is a child process until it is reaped: its pid, the pidfd that
// tells of its exit (Linux), and, once reaped, its status. It outlives the
// Child handle when the handle is closed or dropped first: the orphan
// reaper then owns it until it exits.
//
// Reaping and signalling both take mu and check done, so a signal is never
// sent to a pid that was reaped (and might have been reused).
type proc struct {
	pid   int
	name  string   // "process 123 (cat)"
	pidfd *smol.FD // nil: exits are learnt from SIGCHLD (see sigchld.go)

	mu     sync.Mutex
	done   bool
	status ExitStatus
	err    error // a wait4 error (ECHILD: someone else reaped it)
}

func newProc(pid int, path string, pidfd *smol.FD) *proc {
	base := path
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			base = path[i+1:]
			break
		}
	}
	return &proc{pid: pid, name: "process " + strconv.Itoa(pid) + " (" + base + ")", pidfd: pidfd}
}

// String describes the process for task dumps: "process 123 (cat)".
func (p *proc) String() string { return p.name }

// result returns the status once the process is reaped.
func (p *proc) result() (ExitStatus, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status, p.done, p.err
}

// tryWait reaps the process if it has exited (wait4 with WNOHANG) and
// reports whether it is reaped. The pid cannot have been reused: an
// exited child stays a zombie, holding its pid, until it is reaped, and
// only this function reaps it.
func (p *proc) tryWait() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return true
	}
	var ws syscall.WaitStatus
	var pid int
	var err error
	for {
		pid, err = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
		if err != syscall.EINTR {
			break
		}
	}
	switch {
	case err != nil:
		p.err = os.NewSyscallError("wait4", err)
	case pid == 0:
		return false
	default:
		p.status = fromWaitStatus(ws)
	}
	p.done = true
	p.release()
	return true
}

// release gives up what waiting needed, once reaped; p.mu is held.
func (p *proc) release() {
	if p.pidfd != nil {
		p.pidfd.Close()
	} else {
		chldRelease()
	}
}

// pollExit is ready with the status once the process has exited and been
// reaped. fb holds the waiter's registration when exits are learnt from
// SIGCHLD; it is unused with a pidfd.
func (p *proc) pollExit(cx *smol.Context, fb *sigchldWait) (ExitStatus, bool, error) {
	if st, done, err := p.result(); done {
		fb.discard()
		return st, true, err
	}
	if p.pidfd == nil {
		return fb.poll(cx, p)
	}
	// The pidfd turns readable when the process exits. PollReadWith
	// notes the readiness count before the op and, on EAGAIN, waits only
	// for a later readiness: an exit between the wait4 and the wait is
	// not lost.
	_, ok, err := p.pidfd.PollReadWith(cx, func(int) (int, error) {
		if p.tryWait() {
			return 0, nil
		}
		return 0, unix.EAGAIN
	})
	if !ok {
		cx.WaitingOn(p, smol.WaitOther)
		return ExitStatus{}, false, nil
	}
	if err != nil && !errors.Is(err, os.ErrClosed) {
		return ExitStatus{}, true, err
	}
	// Reaped, here or by another waiter (which closed the pidfd).
	st, _, err := p.result()
	return st, true, err
}

// signal sends sig to the process unless it was reaped.
func (p *proc) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return os.ErrProcessDone
	}
	var err error
	if p.pidfd != nil {
		err = p.pidfd.Control(func(fd int) error { return pidfdSendSignal(fd, sig) })
		if err == syscall.ESRCH { // exited, not yet reaped
			return os.ErrProcessDone
		}
		if err != nil {
			return os.NewSyscallError("pidfd_send_signal", err)
		}
		return nil
	}
	if err = syscall.Kill(p.pid, sig); err != nil {
		if err == syscall.ESRCH {
			return os.ErrProcessDone
		}
		return os.NewSyscallError("kill", err)
	}
	return nil
}

// The orphan reaper reaps children whose handle was closed, or dropped and
// collected, before they were reaped, so that none stays a zombie. It is
// one goroutine for the process, running only while there are orphans: it
// waits for them in smol.BlockOn, on their pidfds or on SIGCHLD, like any
// task would.
var orphans struct {
	mu      sync.Mutex
	queue   []*proc    // handed over, not yet taken by the reaper
	running bool       // the reaper goroutine exists
	waker   smol.Waker // the reaper's, while it waits
}

// adopt hands p to the reaper.
func adopt(p *proc) {
	if p.tryWait() {
		return
	}
	orphans.mu.Lock()
	orphans.queue = append(orphans.queue, p)
	if !orphans.running {
		orphans.running = true
		orphans.mu.Unlock()
		go reapOrphans()
		return
	}
	w := orphans.waker
	orphans.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

func reapOrphans() {
	smol.BlockOn(&reaper{})
}

// reaper is the future the reaper goroutine runs: it waits for every
// orphan to exit and is ready once none is left.
type reaper struct {
	procs []*proc
	waits []*sigchldWait
}

// Poll takes new orphans and polls every orphan's exit.
func (r *reaper) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		// Take the orphans handed over since the last poll; if there are
		// none and none is left, stop, under the lock, so that the next
		// adopt starts a new goroutine.
		orphans.mu.Lock()
		orphans.waker = cx.Waker()
		for _, p := range orphans.queue {
			r.procs = append(r.procs, p)
			r.waits = append(r.waits, &sigchldWait{})
		}
		clear(orphans.queue)
		orphans.queue = orphans.queue[:0]
		if len(r.procs) == 0 {
			orphans.running = false
			orphans.waker = nil
			orphans.mu.Unlock()
			return struct{}{}, true, nil
		}
		orphans.mu.Unlock()

		// Poll each; drop the reaped.
		kept := 0
		for i, p := range r.procs {
			if _, ok, _ := p.pollExit(cx, r.waits[i]); !ok {
				r.procs[kept], r.waits[kept] = p, r.waits[i]
				kept++
			}
		}
		clear(r.procs[kept:])
		clear(r.waits[kept:])
		r.procs, r.waits = r.procs[:kept], r.waits[:kept]
		if kept > 0 {
			return struct{}{}, false, nil
		}
	}
}

// noPidfd is set by tests to run the SIGCHLD path on Linux too.
var noPidfd atomic.Bool
