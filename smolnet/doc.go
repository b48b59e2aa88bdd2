// Package smolnet is asynchronous networking on the smol runtime: TCP, UDP
// and Unix-domain sockets whose reads, writes, accepts and connects are
// futures, driven by the process's reactor, with no goroutine per
// connection. It is smol's async-net for Go.
//
// # Three ways to use a socket
//
// Poll methods (PollRead, PollWrite, PollAccept, PollReadFrom, ...) follow
// the root package's poll contract: they return ok == false when the
// socket is not ready, after arranging for the task's waker to be woken
// when it may be, and otherwise ok == true with their results, err set if
// the operation failed. They are the building blocks of hand-written
// futures: one small state machine per connection, as the echo example
// shows. They allocate nothing on success.
//
// Future methods (Read, Write, WriteAll, Accept, ReadFrom, WriteTo) and the
// functions Dial, DialUnix and Resolve wrap the poll methods as
// [smol.Future] values, to compose with the root package's combinators
// and timers. A future is ready with its value (a byte count, a
// connection, addresses), or fails with the operation's error: [smol.Then]
// runs its next step only after a success, and [smol.BlockOn] returns the
// value and the error. WriteAll is ready with len(p), or fails with the
// error and the count written before it. A socket future wrapped in
// [smol.Timeout] fails with [smol.ErrTimeout], which matches
// os.ErrDeadlineExceeded, if the time runs out first.
//
// Blocking adapters ([TCPConn.NetConn], [TCPListener.NetListener]) turn a
// socket into a net.Conn or net.Listener, deadlines included, so that code
// written for goroutines (bufio, io.Copy, crypto/tls, net/http) runs on it.
// Each blocking call parks its goroutine in [smol.BlockOn].
//
// # Fairness
//
// Every poll of a socket spends one unit of the polling task's cooperative
// budget ([smol.Context.Proceed]). Once the budget is spent, the poll
// returns pending with the task already woken, and the task goes to the
// back of its executor's queue: a connection that is always readable, or a
// listener with a queue that never empties, yields after
// [smol.DefaultBudget] operations (or the executor's [smol.WithBudget])
// rather than starving the other tasks. A state machine needs nothing
// special for this: it returns pending as after any pending poll, and the
// next poll goes on where it stopped. [smol.BlockOn] and a Context made
// with [smol.NewContext] have no limit.
//
// # Addresses
//
// Dial, Listen, ListenUDP and DialUDP take an address "host:port" and
// resolve it by one set of rules. The port is a number or a service name
// ("http"), looked up in the system's services database. The host is an
// IP literal (an IPv4-mapped IPv6 address is taken as IPv4; an IPv6 zone
// may be an interface name or index), a host name, or empty. An empty host
// means every local address to Listen and ListenUDP (on "tcp" and "udp",
// IPv6 and IPv4 together where the system allows it) and the local system
// to Dial and DialUDP (127.0.0.1, or ::1 on "tcp6" and "udp6"). A network
// ending in 4 or 6 takes only addresses of that IP version; an address of
// the other version fails with a *net.AddrError.
//
// Addresses that need a lookup (a host name or a service name) are
// resolved with Go's resolver: by Dial and [Resolve] on the blocking pool
// ([blocking.Unblock]), so no executor goroutine waits on DNS, and by Listen,
// ListenUDP and DialUDP on the calling goroutine, which blocks: inside a
// task, give those IP literals, or resolve with [Resolve] first. Dial tries
// every address of the name, in the resolver's order, one after another
// (without Happy Eyeballs) until one accepts; DialUDP takes the first;
// Listen and ListenUDP take the first too, IPv4 first when either version
// will do, as Go's net does.
//
// # Buffers and memory
//
// A waiting connection holds no read buffer: PollRead waits for
// readability without one, so a server can read every connection into one
// buffer per executor (or a sync.Pool) and keep only the bytes it still
// has to write. A connection is a few hundred bytes: the [smol.FD], the
// addresses (an accepted TCP connection shares its local address with
// its listener), and whatever state machine the program keeps.
//
// # Back-pressure and half-close
//
// PollWrite is pending while the kernel's send buffer is full, that is,
// while the peer is not reading. A server that stops reading a connection
// while its writes to it are pending buffers no more than it has already
// read, however fast the client sends.
//
// CloseWrite shuts down only the sending side. After the peer's CloseWrite,
// reads return io.EOF once everything sent before has been read, and
// writes still work, so a server can finish sending its replies before it
// closes.
//
// # Closing
//
// Close every socket. One that becomes unreachable without Close, such as
// one held by a task that was canceled when its executor was closed, is
// closed by the garbage collector, as in Go's net; until then it holds its
// file descriptor. A socket that a task is waiting on stays reachable.
//
// # Task dumps
//
// Every socket, listener and dial describes itself with a String method:
// "tcp 127.0.0.1:5000 <- 127.0.0.1:41234" (the local address, then the
// peer's), "tcp listener 127.0.0.1:5000", "udp 0.0.0.0:53", "unix
// /tmp/x.sock", "dial tcp example.com:80". A poll method that returns
// pending notes its socket and operation with [smol.Context.WaitingOn], so
// [smol.LocalExecutor.DumpTasks] and [smol.Executor.Tasks] tell what each
// task waits for: "read tcp 127.0.0.1:5000 <- 127.0.0.1:41234", "accept
// tcp listener 127.0.0.1:5000".
//
// # Errors
//
// Every error is a *net.OpError naming the operation (Op "read", "write",
// "accept", "dial", "listen", "close" or "set"), the network and the
// addresses, like the errors of Go's net, so code that inspects those keeps
// working. Its Err is an *os.SyscallError for a system call's error
// (errors.Is(err, syscall.ECONNREFUSED), ECONNRESET, EPIPE, EADDRINUSE),
// net.ErrClosed for an operation on a closed socket, os.ErrDeadlineExceeded
// for a deadline or a dial timeout, or a *net.DNSError or *net.AddrError
// for an address that cannot be used. The end of a stream is a bare
// io.EOF. Writes to a peer that has gone fail with EPIPE or ECONNRESET and
// never raise SIGPIPE. No operation hangs on a closed socket: Close wakes
// every task waiting on it.
//
// Accepting while the process is out of file descriptors (EMFILE, ENFILE)
// is not an error: the listener retries on a timer, 1 ms doubling to
// 100 ms, and the accepting task stays pending meanwhile, so the executor
// keeps serving the connections it has, and no queued client is dropped.
//
// # io_uring: the completion path (Linux, opt-in)
//
// A [TCPListener] made with [ListenConfig].IOURing set, or any TCP
// listener under SMOL_BACKEND=uring-completion (neither changes the
// reactor's own backend), accepted from in a task of a [smol.LocalExecutor]
// or from the future given to [smol.Run] on one, is served by an io_uring
// ring that belongs to that executor. The option is chosen at run time:
// where the kernel has no io_uring for the program (too old, disabled by
// /proc/sys/kernel/io_uring_disabled, refused by a seccomp filter), on
// other systems, or under SMOL_BACKEND=epoll, the listener keeps the
// reactor's readiness path, with no error; the environment variable
// forces the path on every TCP listener and fails where io_uring is
// unavailable. The ring runs a multishot accept, and for every connection
// accepted there a multishot receive into the ring's provided buffers,
// and writes submitted as send requests, all submitted and reaped
// by one io_uring_enter per round of the executor. Nothing else changes
// path: dialed connections, Unix and UDP sockets, and listeners accepted
// from [smol.BlockOn], an [smol.Executor] or [TCPListener.NetListener]
// keep readiness on the reactor. How such a connection differs:
//
//   - Once a task of its executor has read or written it, its reads and
//     writes must be polled by tasks of that executor; polled from
//     anywhere else (BlockOn, [TCPConn.NetConn]'s goroutines, another
//     executor) they then fail. A connection handed on before its
//     executor used it, the usual way to spread connections over
//     executors or goroutines, leaves the ring at its first read or write
//     elsewhere and is served by the reactor from then on, like any
//     other. Close, the setters and the addresses work from any goroutine.
//   - The goroutine that drives the executor is locked to its OS thread
//     (runtime.LockOSThread) from the first such accept on, because the
//     ring accepts submissions from one thread only; drive the executor
//     from that one goroutine for its life. When the executor is closed,
//     the ring goes with it and later operations on its connections fail.
//     An executor that ran a coroutine task (package coro) before its
//     first accept gets no ring, since the Go runtime forbids locking a
//     goroutine under coroutines made before the lock; its listeners keep
//     readiness.
//   - PollWrite copies up to 64 KiB of p and returns: the bytes are sent
//     by the next round, p may be reused at once, and an error of the send
//     is returned by the next PollWrite. A second PollWrite waits until the
//     first send is done, so a connection has one send in flight. Close
//     right after a write still sends it if the kernel's send buffer has
//     room, as write(2) would; a send still waiting for the peer's window
//     is cancelled by Close.
//   - Received data waits in the ring's buffers (4 KiB each, 8 MiB per
//     executor) until read: a connection whose reader does not read
//     stops receiving after 4 buffers, plus the burst the kernel takes
//     before the stop lands (33 buffers measured under a flood).
//   - An idle connection holds a TCPConn and the ring's record of it
//     (48 and 80 bytes, against 48 and 64 on the readiness path), and
//     kernel memory for its armed receive, which the process's resident
//     size does not show.
//
// The figures and where the path pays are in BENCHMARKS.md, "io_uring
// completion path".
//
// # Limits
//
// Any number of tasks may wait on one socket in one direction (see
// [smol.FD]): the next readiness wakes them all, one of them gets the data
// or the client, and the others wait again. That is correct but costs a
// wake and a poll per waiter, and two tasks reading one stream at once
// interleave what they read, so use one reader task and one writer task
// per connection. (The blocking adapters serialize their callers, as Go's
// net does.) Linux is tested; macOS and the BSDs build.
package smolnet
