// Package process runs child processes from async code: a Command builder
// that mirrors os/exec, a Child whose exit is a future and whose pipes are
// non-blocking descriptors driven by the reactor, Kill and Signal, and the
// reaping of every child so that none stays a zombie. It is smol's
// async-process for Go.
//
//	cmd := process.Command("gzip", "-c")
//	cmd.Stdin, cmd.Stdout = process.Piped(), process.Piped()
//	child, err := cmd.Spawn()
//	...
//	// one task writes child.Stdin and closes it, another reads child.Stdout
//	status, err := smol.Run(ex, child.Status())
//
// # Commands
//
// Command looks the program up as os/exec.Command does (exec.LookPath:
// $PATH, and exec.ErrDot for a program found relative to the current
// directory); its Cmd has the fields of os/exec's (Path, Args, Env, Dir,
// SysProcAttr) plus KillOnClose. Each standard stream is Null (the zero
// value, like a nil stream in os/exec), Inherit, Piped, or an *os.File,
// io.Reader or io.Writer given with From and To. A file is passed to the
// child as it is; a reader or writer that is not a file is copied through
// a pipe by the futures that wait for the child, inside their polls, with
// no goroutine: it must not block (a bytes.Buffer does not). os/exec
// spends a goroutine per such stream instead.
//
// Spawn forks and execs on the calling goroutine, as os/exec's Start and
// Rust's async-process do. Cmd.Status, Cmd.Output and Cmd.CombinedOutput
// spawn at once and return futures of the outcome; Output fails with an
// *ExitError for a command that did not succeed, as in os/exec.
//
// # Names and Go habits
//
// There is no Run, Start or Wait. "if err := cmd.Run(); err != nil" and
// "cmd.Wait()" are Go habits; with methods of those names returning
// futures they would compile and wait for nothing. Spawn starts a child
// and returns at once with an error, as Start does; the futures are named
// for what they are ready with: Status, Output, CombinedOutput. Kill,
// Signal and Close act at once, like their os namesakes.
//
// # Pipes
//
// Child.Stdin is a *Writer and Child.Stdout and Child.Stderr are *Readers:
// the parent's ends of pipes, non-blocking and registered with the reactor
// (smol.FD with SetStream), with poll methods (PollRead, PollWrite) and
// futures (Read, Write, WriteAll, ReadAll) in the style of smolnet's
// connections. Every poll spends one unit of the task's cooperative
// budget. Errors are *os.PathErrors naming the pipe ("read stdout of
// process 123 (cat): ..."); end of file is a bare io.EOF; a write to a
// child that closed its stdin fails with EPIPE and raises no SIGPIPE.
// Read a child's output while you write its input, from two tasks (or one
// state machine), or a child that fills its stdout pipe stops reading its
// stdin, as with any pipes.
//
// # Exit and reaping
//
// On Linux (5.2 and later) the child is created with a pidfd (clone with
// CLONE_PIDFD, through syscall.SysProcAttr.PidFD), registered with the
// reactor: it turns readable when the child exits, and the waiting task
// then reaps it with wait4(pid, WNOHANG). The pid cannot be reused before
// that, since an unreaped child keeps it, and Kill and Signal go through
// pidfd_send_signal. Waiting costs no goroutine and no signal handler.
//
// Where there is no pidfd (older kernels, macOS, the BSDs), exits are
// learnt from SIGCHLD, through os/signal: one goroutine for the process,
// running while such children are unreaped, receives it and wakes every
// waiting task, which tries wait4 on its own child; so n waiting children
// cost n wait4 calls per SIGCHLD. (The broadcast is not left to a waiting
// task, whose executor might not be running.)
//
// Every child is reaped. Status reaps it; a Child closed, or dropped and
// garbage collected, before it was reaped goes to the package's reaper: one
// goroutine for the process, running smol.BlockOn over the orphans' exits
// while there are any and exiting with the last. A child closed while it
// keeps running (without KillOnClose) keeps that goroutine until it
// exits. Code elsewhere in the process that reaps every child
// (wait4(-1, ...)) steals the statuses; Status then fails with ECHILD.
//
// # Costs
//
// Spawn takes about as long as os/exec's Start: it is the same
// syscall.ForkExec, which returns once the child has called exec. On this
// project's 2-core VM, whose fork and exec are slow, go test -run '^$'
// -bench Spawn -count 3 ./process measured 5.4-8.5 ms a Spawn of true
// against 8.4-11.6 ms for exec.Cmd.Start, and 8.0-11.9 ms for spawning
// and awaiting Status against 8.1-11.0 ms for exec.Cmd.Run.
//
// A Child is a few hundred bytes plus its pipes, each an smol.FD. Copying
// a stream given as a reader or writer uses a 32 KiB buffer, allocated
// while the copy runs. No goroutine runs per child or per pipe: 50
// children, each with a task awaiting its Status and one reading its
// stdout, add one goroutine in all, with or without pidfds (the runtime's
// reactor fallback, which polls the descriptors while no executor is
// driven, or the SIGCHLD broadcast; go test -run NoGoroutinePerChild -v
// ./process logs the counts).
package process
