package smolnet

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// ListenConfig holds the options for creating a listener. The zero value
// is the default configuration, which [Listen] and [ListenUnix] use.
type ListenConfig struct {
	// Backlog is the length of the queue of connections that the kernel
	// has completed but the program has not accepted yet. Zero means the
	// system's maximum (on Linux, /proc/sys/net/core/somaxconn), as in
	// Go's net.
	Backlog int

	// ReusePort sets SO_REUSEPORT before binding, so that several sockets
	// can listen on one address and the kernel spreads connections among
	// them (TCP only).
	ReusePort bool

	// KeepAlive is the keep-alive period of accepted TCP connections: the
	// idle time before the first probe and the interval between probes.
	// Zero means 15 seconds, as in Go's net; negative disables keep-alive.
	KeepAlive time.Duration

	// OnAcceptBackoff, if set, is called each time accepting fails for
	// lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) and the listener
	// backs off, with the error and the delay before the next attempt. It
	// runs inside a poll: it must be quick and must not block.
	OnAcceptBackoff func(err error, delay time.Duration)

	// IOURing asks for the io_uring completion path for this TCP listener
	// where it can be had, and for the readiness path (epoll) elsewhere,
	// with the same API and no error: it is a choice made at run time,
	// by the kernel. It applies when the listener is accepted from in a
	// task of a [smol.LocalExecutor] (or the future given to [smol.Run]
	// on one) on Linux with io_uring available: the listener and the
	// connections it accepts there then use a ring of that executor
	// (multishot accept and receive, sends as requests). The package
	// documentation says how, and what a program accepts by asking: the
	// executor's goroutine stays locked to its thread and must drive the
	// executor for its life, a connection stays with that executor once
	// one of its tasks has used it, and closing the executor ends its
	// connections. The listener works as it does without the option where
	// io_uring is unavailable (an older kernel,
	// /proc/sys/kernel/io_uring_disabled, a seccomp filter that refuses it
	// with ENOSYS or EPERM) or refuses the ring (a kernel before 6.1;
	// after one refusal no such listener tries again), on other systems,
	// outside a LocalExecutor, on an executor that ran a coroutine task
	// first, and under SMOL_BACKEND=epoll. SMOL_BACKEND=uring-completion
	// turns the path on for every TCP listener, and fails instead where
	// io_uring is unavailable.
	IOURing bool
}

// Accept back-off bounds: the first retry after a resource error waits
// minBackoff, each further failure doubles the wait, up to maxBackoff.
const (
	minBackoff = time.Millisecond
	maxBackoff = 100 * time.Millisecond
)

// listener is the core of a listening socket, TCP or Unix, as [conn] is
// of a connection: the socket, its address, the accept loop with its
// back-off, and the methods that do not depend on the network.
// [TCPListener] and [UnixListener] embed it.
//
// Why a timer. At EMFILE the pending connection stays in the kernel's
// queue, but the edge that announced it has been consumed: the socket will
// not be reported readable again until another client connects, which may
// never happen. So the retry must come from a timer. While the timer runs,
// accepting tasks are pending, so the executor keeps serving the
// connections it already has; when descriptors are freed, the next retry
// takes the queued clients in order and none is dropped. This differs from
// Go's net, which returns EMFILE to the caller and leaves the retry policy
// to it (net/http sleeps 5 ms doubling to 1 s).
type listener[A endpoint] struct {
	fd        *smol.FD
	network   string // as given to Listen: "tcp4" names its errors so
	addr      A
	onBackoff func(error, time.Duration)
	bo        backoff
	u         atomic.Pointer[ulisten] // the multishot accept on an io_uring ring, if any (uring_linux.go)
}

// pollAccept accepts one connection and registers it with the reactor,
// running setup first on the bare descriptor, which no one else can see
// yet. It returns the connection's FD and the peer's address (unset for
// a Unix socket);
// errors are *net.OpError values with Op "accept".
func (l *listener[A]) pollAccept(cx *smol.Context, setup func(s int) error) (fd *smol.FD, peer netip.AddrPort, ok bool, err error) {
	for {
		// While backing off, wait for the timer, not for readability.
		if l.bo.wait(cx) {
			cx.WaitingOn(l, smol.WaitAccept)
			return nil, peer, false, nil
		}
		nfd, ok, err := l.fd.PollReadWith(cx, func(s int) (int, error) {
			n, ap, e := sysAccept(s)
			peer = ap
			return n, e
		})
		if !ok {
			cx.WaitingOn(l, smol.WaitAccept)
			return nil, peer, false, nil
		}
		switch err {
		case nil:
			l.bo.succeeded()
			fd, err := register(nfd, setup)
			if err != nil {
				return nil, peer, true, l.opErr("accept", err)
			}
			fd.SetStream() // a byte stream: see smol.FD.SetStream
			return fd, peer, true, nil
		case unix.ECONNABORTED:
			// The client gave up while queued; take the next one.
			continue
		case unix.EINVAL:
			// Not listening: Close shut the socket down and is about to
			// close it (see Close).
			return nil, peer, true, l.opErr("accept", net.ErrClosed)
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of descriptors or memory: arm the timer and loop, so
			// that wait registers this task with it.
			d := l.bo.fail()
			if l.onBackoff != nil {
				l.onBackoff(sockErr("accept", err), d)
			}
			continue
		}
		return nil, peer, true, l.opErr("accept", sockErr("accept", err))
	}
}

// Addr returns the address the listener is bound to: a *net.TCPAddr for
// a TCP listener, a *net.UnixAddr for a Unix one.
func (l *listener[A]) Addr() net.Addr { return l.addr.netAddr() }

// Close stops listening. Tasks waiting to accept are woken and get an
// error matching net.ErrClosed, as do later calls; clients still queued
// are refused. A Unix listener's socket file is removed. Closing twice
// returns an error matching net.ErrClosed.
func (l *listener[A]) Close() error {
	if l.u.Load() != nil || l.addr.network() == "tcp" {
		// A request on an io_uring ring can hold the socket open after
		// the fd is closed: the completion path's accept (its dup of the
		// socket, and the request's own reference), or the io_uring
		// poller's multishot poll until the poller has removed it. So
		// closing the fd would not always stop the listening at once:
		// shut the socket down first, which Linux does for a listening
		// TCP socket at once (clients queued and to come are refused), and
		// which ends the ring's accept.
		control(l.fd, func(s int) error { return unix.Shutdown(s, unix.SHUT_RD) })
	}
	err := l.fd.Close()
	if err == nil {
		l.closeRing()
	}
	// Release the tasks waiting on the back-off timer too: their next
	// attempt fails with net.ErrClosed.
	l.bo.close()
	if err != nil {
		return l.opErr("close", sockErr("close", err))
	}
	l.addr.release()
	return nil
}

// String describes the listener for task dumps: "tcp listener
// 127.0.0.1:5000", "unix listener /tmp/x.sock". It is safe to call from
// any goroutine.
func (l *listener[A]) String() string { return l.network + " listener " + l.addr.String() }

// opErr is the error of a failed operation on the listener, which names
// its address.
func (l *listener[A]) opErr(op string, err error) error {
	return newOpError(op, l.network, nil, l.addr.netAddr(), err)
}

// listen makes the bound stream socket s listen, with lc's backlog.
func (lc *ListenConfig) listen(s int) error {
	backlog := lc.Backlog
	if backlog <= 0 {
		backlog = defaultBacklog()
	}
	return sockErr("listen", unix.Listen(s, backlog))
}

// backoff is the accept retry timer. Its state is guarded by mu. The timer
// is polled with backoff itself as the waker, and any number of accepting
// tasks wait in waiters, so that two tasks accepting on one listener do not
// displace each other's registration.
type backoff struct {
	mu      sync.Mutex
	active  bool          // a retry is scheduled; accept must not run before it
	delay   time.Duration // the last delay, 0 after a success
	timer   *smol.Timer
	cx      *smol.Context // wakes backoff itself
	waiters []smol.Waker
}

// wait reports whether a back-off is in progress; if so, cx's waker is
// woken when it ends (or the listener is closed).
func (b *backoff) wait(cx *smol.Context) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.active {
		return false
	}
	if _, fired, _ := b.timer.Poll(b.cx); fired {
		b.active = false
		return false
	}
	if w := cx.Waker(); !slices.Contains(b.waiters, w) {
		b.waiters = append(b.waiters, w)
	}
	return true
}

// fail schedules a retry after the next delay and returns the delay.
func (b *backoff) fail() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delay = min(max(2*b.delay, minBackoff), maxBackoff)
	if b.timer == nil {
		b.timer = smol.After(b.delay)
		b.cx = smol.NewContext(b)
	} else {
		b.timer.Reset(b.delay)
	}
	b.active = true
	return b.delay
}

// succeeded resets the delay after an accept went through.
func (b *backoff) succeeded() {
	b.mu.Lock()
	b.delay = 0
	b.mu.Unlock()
}

// Wake is called by the timer: every waiting task retries.
func (b *backoff) Wake() {
	b.mu.Lock()
	ws := b.waiters
	b.waiters = nil
	b.mu.Unlock()
	for _, w := range ws {
		w.Wake()
	}
}

// close cancels the back-off and wakes the waiting tasks.
func (b *backoff) close() {
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.active = false
	b.mu.Unlock()
	b.Wake()
}
