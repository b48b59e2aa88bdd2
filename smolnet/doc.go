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
// when it may be. They are the building blocks of hand-written futures:
// one small state machine per connection, as the echo example shows. They
// allocate nothing on success.
//
// Future methods (Read, Write, WriteAll, Accept, Dial, Resolve) wrap the
// poll methods as [smol.Future] values, ready with a [smol.Result], to
// compose with the root package's combinators and timers ([smol.Timeout]).
//
// Blocking adapters ([TCPConn.NetConn], [TCPListener.NetListener]) turn a
// socket into a net.Conn or net.Listener, deadlines included, so that code
// written for goroutines (bufio, io.Copy, crypto/tls, net/http) runs on it.
// Each blocking call parks its goroutine in [smol.BlockOn].
//
// # Buffers and memory
//
// A waiting connection holds no read buffer: PollRead waits for
// readability without one, so a server can read every connection into one
// buffer per executor (or a sync.Pool) and keep only the bytes it still
// has to write. A connection is a few hundred bytes: the [smol.FD], the
// addresses, and whatever state machine the program keeps.
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
// # Limits
//
// Host names are resolved with net.DefaultResolver on the blocking pool by
// Dial and Resolve; Listen, ListenUDP and DialUDP resolve them on the
// calling goroutine, so inside a task give them IP literals. Dial tries a
// host's addresses one after another, without Happy Eyeballs. A socket
// has one waiter slot per direction (see [smol.FD]): two tasks reading one
// socket at once, or writing it at once, displace each other and keep each
// other busy with wakes until data arrives, so use one reader task and one
// writer task per socket. (The blocking adapters serialize their callers,
// as Go's net does, and are not affected.) Linux is tested; macOS and the BSDs build.
package smolnet
