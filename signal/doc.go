// Package signal delivers incoming Unix signals (SIGINT, SIGTERM, SIGHUP,
// SIGUSR1 and the others) as futures, for graceful shutdown and reload in
// async code: smol's async-signal for Go.
//
//	sigs, err := signal.Notify(syscall.SIGINT, syscall.SIGTERM)
//	if err != nil { ... }
//	defer sigs.Close()
//	sig, err := smol.Run(ex, sigs.Recv()) // the first SIGINT or SIGTERM
//
// # Exactly once, per stream
//
// A *Signals is a stream of the signals it was created for. Every signal of
// those that the process receives while the stream is open is queued on the
// stream and received by exactly one Recv of it. Streams are independent:
// two streams registered for SIGHUP each receive every SIGHUP, and code that
// uses os/signal directly keeps receiving its own copy too. A signal that
// arrives while Close runs may or may not be received; none is received
// after Close.
//
// "Received by the process" is the Go runtime's count, which is the
// kernel's: a standard signal that is sent again before the first instance
// was handled is merged with it by the kernel (and by the runtime's own
// queue), so N kill(2)s in a burst can arrive as fewer signals. Each one
// that arrives is given to every stream once.
//
// # Why os/signal and not a signalfd
//
// A signalfd only receives signals that are blocked in every thread of the
// process; otherwise the kernel delivers them to a thread that has them
// unblocked, through the handler installed there. In a Go program that
// cannot be arranged: the runtime installs its own handler for every
// signal, creates threads whenever it needs them, and each new thread sets
// its own mask in minit (runtime/signal_unix.go, minitSignalMask), unblocking
// every signal whose table entry is flagged _SigKill or _SigUnblock —
// SIGHUP, SIGINT and SIGTERM among them (runtime/sigtab_linux_generic.go).
// Blocking them with pthread_sigmask on one locked thread leaves every other
// thread, present or future, taking them. So the only correct route for a
// Go program is the runtime's: os/signal.Notify.
//
// # Costs: one goroutine for the process
//
// os/signal sends to Go channels, and waking a task from a Go channel needs
// a goroutine to receive from it. This package runs one goroutine for the
// whole process, started with the first open stream and ended with the
// last Close: it receives from every stream's channel at once (a
// reflect.Select over them) and queues each signal on its stream, waking
// one task waiting in Recv. There is no goroutine per stream or per waiting
// task. os/signal itself runs its own goroutine (os/signal.loop) once
// Notify has been called, for the life of the process.
//
// Each stream holds a Go channel with room for 64 signals between
// os/signal and the dispatching goroutine, which empties it at once; like
// os/signal, a signal that finds the channel full is dropped, which only
// a burst of more than 64 signals while the goroutine is not scheduled
// could cause. Signals received and not yet taken by Recv are kept in an
// unbounded queue per stream: a stream nobody reads grows by a few words
// per signal.
//
// # Blocking forms
//
// Recv returns a future. There is no blocking receive here: from a
// goroutine, use smol.BlockOn(s.Recv()), or os/signal itself.
package signal
