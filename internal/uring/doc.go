// Package uring is the io_uring half of the reactor's kernel interface on
// Linux: a ring (io_uring_setup, the mapped submission and completion
// queues, io_uring_enter), registration (opcode probe, registered files,
// registered buffers, provided buffer rings), preparers for the operations
// a completion-based reactor needs (multishot accept, multishot receive
// into provided buffers, send, poll, cancel, close, timeout, message to
// another ring), a wake-up that another goroutine can trigger, and a way to
// wait that parks the goroutine in the Go runtime's poller instead of
// holding a thread and a P.
//
// It knows nothing about futures or tasks; the reactor builds those on top.
//
// # Who uses it
//
// internal/poller's io_uring backend (poller_uring_linux.go, chosen with
// SMOL_BACKEND=uring) keeps readiness with multishot poll requests on one
// Ring made with Options.Park, and waits with Ring.Park, which lets other
// goroutines submit (Add, Delete) while the waiter is parked.
//
// smolnet's completion path (smolnet/uring_linux.go, chosen with
// SMOL_BACKEND=uring-completion) uses the completion-based operations: one
// Ring per LocalExecutor, made with Options.SingleIssuer (SINGLE_ISSUER|
// DEFER_TASKRUN) and NoWake on the executor's goroutine, which it locks to
// its thread; a BufRing of receive buffers; multishot accept on TCP
// listeners, multishot receive into the BufRing and PrepSend for the
// connections accepted there; PrepCancel and PrepCancelFd on Close. One
// task of the executor submits and reaps with SubmitAndWait(0), one enter
// per round of the executor, and waits in the process's reactor (epoll)
// on an eventfd given to RegisterEventfd, with its signals off
// (SetEventfdSignals) while it runs; HasWork tells it whether to wait.
//
// Registered files and buffers are used by neither. The poller issues a
// multishot poll once per connection, and the completion path a multishot
// receive once per connection (re-armed only when it stops), so the fdget
// that a fixed file saves is paid once, not per event; what remains is
// one fdget per send, an atomic increment and decrement, which
// BenchmarkPingPong's uring-defer-fixed variant (the completion path's
// setup with every socket registered) did not show above noise (see
// BENCHMARKS.md, "io_uring completion path"). A registered buffer helps
// only zero-copy sends (a copying send pins nothing), which cost more than
// they save at echo's sizes; see register_linux.go.
// The measured results are in BENCHMARKS.md ("io_uring backend").
// It is built only on Linux; elsewhere the package holds just Available,
// which says no, and the EnvBackend parsing, so that callers compile
// everywhere.
//
// # Choosing io_uring at run time
//
// Available reports whether io_uring may be used and, if not, why:
// EnvBackend (SMOL_BACKEND=uring|epoll|auto) first, then
// /proc/sys/kernel/io_uring_disabled, then io_uring_setup itself (ENOSYS,
// EPERM), then the features and opcodes the reactor needs. Forced reports
// whether the environment demands io_uring, so that the reactor fails
// rather than silently falling back.
//
// # Ownership and threads
//
// A Ring has one owner at a time (see Ring). Only Notify is safe from any
// goroutine, and Park from one goroutine while the owner's methods run in
// another. The kernel ties each request to the OS thread that submitted
// it: completion work (for a socket, the actual receive once data has
// arrived) runs as task work on that thread, and a multishot request's on
// the thread that armed it, for as long as it stays armed. In Go,
// goroutines move between threads, so the flags that assume a single
// submitting thread (SINGLE_ISSUER, DEFER_TASKRUN, a registered ring fd)
// are off unless the caller locks its goroutine to a thread and asks for
// them (Options.SingleIssuer). The affinity has a measured cost even
// without those flags: an echo loop whose goroutine the scheduler moved
// pays for waking the old thread on every completion (17 to 33 µs of CPU
// per round trip at one connection, against 11 µs when the goroutine is
// locked to its thread; see bench_linux_test.go). A thread that exits takes its pending requests
// with it (the kernel cancels them); Go threads exit only when a goroutine
// that called LockOSThread returns without unlocking, which a reactor
// driver must never do.
//
// # Memory ordering
//
// The queues are shared with the kernel. Each index has one writer: we
// write the SQ tail and the CQ head, the kernel writes the SQ head and the
// CQ tail. Go's sync/atomic operations are sequentially consistent, which
// is at least the acquire and release the protocol needs; each load and
// store of an index says which kernel barrier it pairs with where it is
// made (ring_linux.go: trySQE, flushSQ, cqReady, Reap; register_linux.go:
// BufRing.Publish). The entries themselves (SQEs, CQEs, buffer ring
// entries) are plain memory ordered by those indexes.
//
// # Memory the kernel writes later
//
// A multishot receive writes into a provided buffer whenever data arrives,
// long after its SQE was submitted. Buffer rings and their buffers are
// therefore mmap memory, never Go heap memory that the garbage collector
// could free and reuse while a request still names it, and Close cancels
// every request synchronously before it unmaps anything. Memory the caller
// passes (a send buffer) must stay reachable and unchanged until the
// request's final CQE and must not be on a goroutine stack (see
// prep_linux.go).
package uring
