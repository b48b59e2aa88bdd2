package process

import (
	"strconv"
	"syscall"
)

// ExitStatus is how a child process ended: with an exit code, or killed by
// a signal. The zero value is a successful exit.
type ExitStatus struct {
	code int            // the exit code, or -1 if a signal killed the process
	sig  syscall.Signal // the signal that killed it, or 0
	core bool           // it dumped core
}

func fromWaitStatus(ws syscall.WaitStatus) ExitStatus {
	if ws.Signaled() {
		return ExitStatus{code: -1, sig: ws.Signal(), core: ws.CoreDump()}
	}
	return ExitStatus{code: ws.ExitStatus()}
}

// Success reports whether the process exited with code 0.
func (s ExitStatus) Success() bool { return s.code == 0 }

// ExitCode returns the exit code, or -1 if the process was killed by a
// signal, as os.ProcessState.ExitCode does.
func (s ExitStatus) ExitCode() int { return s.code }

// Signal returns the signal that killed the process, or 0 if it exited.
func (s ExitStatus) Signal() syscall.Signal { return s.sig }

// CoreDump reports whether the process dumped core as it was killed.
func (s ExitStatus) CoreDump() bool { return s.core }

// String describes the status as os.ProcessState does: "exit status 0",
// "exit status 2", "signal: killed", "signal: aborted (core dumped)".
func (s ExitStatus) String() string {
	if s.sig == 0 {
		return "exit status " + strconv.Itoa(s.code)
	}
	str := "signal: " + s.sig.String()
	if s.core {
		str += " (core dumped)"
	}
	return str
}

// Err returns nil if the process succeeded, and an *ExitError holding s
// otherwise: the error os/exec's Wait would return.
func (s ExitStatus) Err() error {
	if s.Success() {
		return nil
	}
	return &ExitError{Status: s}
}

// ExitError is the error of a command that did not succeed, as returned by
// Cmd.Output, Cmd.CombinedOutput and ExitStatus.Err, like os/exec's
// ExitError.
type ExitError struct {
	Status ExitStatus
	// Stderr holds the child's standard error if Output collected it
	// (when the command's Stderr was not set); otherwise it is nil.
	Stderr []byte
}

// Error returns the status as its String method describes it.
func (e *ExitError) Error() string { return e.Status.String() }

// ExitCode returns the exit code, or -1 if a signal killed the process.
func (e *ExitError) ExitCode() int { return e.Status.code }
