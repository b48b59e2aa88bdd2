// Package poller is the operating-system half of the reactor: one small
// type, [Poller], over epoll or io_uring on Linux and kqueue on macOS and
// the BSDs, plus a wake-up so that another goroutine can interrupt a
// blocked [Poller.Wait]. It knows nothing about futures, wakers or timers;
// the reactor in the root package builds those on top of it.
//
// # Choosing the backend on Linux
//
// New reads SMOL_BACKEND (parsed by internal/uring, EnvBackend) once:
//
//	SMOL_BACKEND=epoll    epoll.
//	SMOL_BACKEND=uring    io_uring (poller_uring_linux.go): readiness from
//	                      multishot IORING_OP_POLL_ADD requests. If io_uring
//	                      is unavailable (ENOSYS, EPERM from a seccomp
//	                      filter, /proc/sys/kernel/io_uring_disabled, a
//	                      kernel without the opcodes), New fails with the
//	                      reason; it never falls back silently.
//	SMOL_BACKEND=auto     or unset: epoll. The io_uring backend measured
//	                      slower than epoll on echo on this machine (see
//	                      BENCHMARKS.md, "io_uring backend"), so the
//	                      automatic choice does not take it; should a
//	                      future measurement favour it, auto would take it
//	                      where uring.Available allows and fall back to
//	                      epoll where not (the rule is in chooseURing).
//
// Any other value is an error. On macOS and the BSDs, uring is an error and
// the other values give kqueue. [Poller.Backend] names the backend in use.
// Both Linux backends keep the contract below; the package's tests run
// once per backend.
//
// # The contract every backend keeps
//
// New creates the kernel queue (epoll_create1(EPOLL_CLOEXEC), an io_uring,
// or kqueue) and the wake-up (an eventfd, a pipe, kqueue's EVFILT_USER, or
// for io_uring a second small ring that sends IORING_OP_MSG_RING). Every fd
// the poller owns is close-on-exec.
//
// Add(fd, key) registers fd once, for its whole life, for both read and
// write readiness, edge-triggered (epoll: EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET;
// kqueue: EVFILT_READ and EVFILT_WRITE with EV_CLEAR). key is an opaque
// 64-bit value that comes back in every [Event] for fd; the poller never
// interprets it, except that [ReservedKey] is refused. Adding an fd that is
// already registered fails with EEXIST. fd must be pollable (a socket, pipe,
// tty, eventfd...): epoll refuses a regular file with EPERM, while kqueue
// accepts it and reports it always ready, so callers should not rely on
// either and should keep regular files out of the poller.
//
// Edge-triggered means a readiness edge is reported once. After an event
// says Readable, the caller must read until the call returns EAGAIN, or keep
// its own "ready" state until it does; otherwise no further event comes for
// data that was already there. A short read from a TCP or Unix stream
// socket (fewer bytes than asked for) also means the socket was drained at
// that instant, so the caller may treat it like EAGAIN and save a system
// call (the measured reason for edge-triggered mode, see poller_epoll.go);
// the exceptions are reads that stop at TCP urgent data or at Unix-socket
// ancillary data (passed fds or credentials), and non-stream fds such as
// ttys, so a caller that cannot rule these out reads until EAGAIN. The
// same holds for Writable: a short write means the send buffer is full. Readiness is a hint, never a promise: an event may be spurious
// (the data was consumed by an earlier read, or kqueue merged activity), so
// an operation after an event may still return EAGAIN, and the caller then
// simply waits for the next edge.
//
// AddOneShot and Modify offer the other model, one-shot: the fd reports at
// most one event and is then disarmed until Modify re-arms it with a new
// interest set. One-shot registrations are level-triggered while armed: if
// the fd is already ready when Modify re-arms it, the event comes at once.
// On epoll an event disarms both directions; on kqueue each direction is a
// separate filter and only the direction that fired is disarmed. In either
// case the caller re-arms with Modify, which replaces the interest set. The
// reactor uses Add; one-shot exists so that the choice was made by
// measurement (see the top of poller_epoll.go) and can be revisited.
//
// Delete(fd) deregisters fd. The caller must call it before it closes fd:
// epoll forgets a closed fd only when every duplicate of it is closed, the
// kqueue backend keeps a per-fd table that only Delete clears, and on
// io_uring the poll request holds a reference to the file, so a socket
// closed without Delete stays open in the kernel (no FIN reaches the
// peer) until the poller is closed. A Wait
// that begins after Delete returns never reports fd's key; a Wait that runs
// concurrently with Delete may, and so may the batch of events the caller
// got from an earlier Wait and has not finished processing. Because fd
// numbers are reused at once after close, such a stale event can arrive
// after a new file has been added under the same fd number. Keys must
// therefore carry a generation (for example a slot index in the low bits and
// a registration counter in the high bits), and the caller must drop events
// whose key no longer names a live registration. On kqueue the key is kept
// in a table indexed by fd (kqueue's udata cannot carry 64 bits on every
// platform without unsafe pointer tricks), and each kernel registration
// carries an 8-bit per-fd generation tag in udata; Wait drops events whose
// tag does not match the fd's current registration. The tag wraps after 256
// re-registrations of one fd number, so in the worst case a stale event
// could be delivered under the new key as a spurious readiness, which the
// caller tolerates anyway (see above).
//
// Wait(events, timeout) blocks until at least one event is ready, the
// timeout passes, or Notify is called, and fills events with at most
// len(events) events. timeout < 0 blocks with no limit, 0 polls without
// blocking, and > 0 never returns because of the timeout before the timeout
// has fully passed (see [Poller.Wait] for how each backend gets sub-
// millisecond precision). Wait may return early with no events: after a
// Notify, after a signal interrupted the system call (EINTR is reported as
// (0, nil)), or when a very long timeout was clamped. A caller that runs
// timers must therefore read its clock after Wait returns and never assume
// the timeout expired. One fd may appear in more than one event of a batch
// (kqueue reports read and write readiness separately).
//
// Notify wakes the Wait that is blocked now or, if none is, makes the next
// Wait return at once. Notifies are deduplicated: an atomic flag is set by
// the first Notify and cleared by the Wait that consumes the wake-up, so any
// number of Notify calls between two Waits cost one write system call. The
// wake-up is consumed inside Wait and never appears in events.
//
// Close wakes a blocked Wait, waits until it and every Add, Delete and
// Notify in progress have returned, and closes the poller's own fds (never
// the caller's). Afterwards every method returns [ErrClosed].
//
// # Thread safety
//
// Add, AddOneShot, Modify, Delete and Notify may be called from any
// goroutine at any time, also while another goroutine is blocked in Wait.
// Wait is meant for one goroutine at a time: concurrent calls are safe but
// are serialized by a mutex, so the second one waits for the first to
// return before it starts to wait itself. Close may be called from any
// goroutine, once; later calls return ErrClosed.
//
// # Memory ordering of Notify
//
// A goroutine that changes state the Wait loop must see (a new timer, a
// runnable task) publishes it first, with its own synchronization, and then
// calls Notify. Wait clears the notify flag before it returns. So a Notify
// that found the flag already set ran before that clear, and its state is
// visible to whatever the Wait loop reads after Wait returns; a Notify that
// comes after the clear sets the flag again and writes the wake-up fd, so
// the next Wait returns at once. Either way no wake-up is lost. The argument
// is spelled out where the flag is cleared (poller.go).
//
// # Costs
//
// Add and Delete are one or two system calls each; Wait is one system call
// plus one read of the wake-up fd when it was notified; Notify is one write
// when the flag was clear and no system call otherwise. On io_uring, Add
// also makes an fstat (to refuse regular files, as epoll does), a Wait with
// completions ready and nothing to submit makes no system call, and Notify
// is one io_uring_enter on the notifier ring (see poller_uring_linux.go). Nothing allocates
// after New except Wait, which allocates its kernel event buffer when it is
// first called with a larger events slice than before.
package poller

import "errors"

// Event is one readiness report from [Poller.Wait].
//
// Error and hang-up conditions are folded into the direction flags, as the
// Go runtime's netpoller does, so that a caller waiting for one direction is
// woken and learns about the condition from its next read or write:
//
//   - On epoll, Readable is set by EPOLLIN, EPOLLRDHUP, EPOLLHUP or
//     EPOLLERR; Writable by EPOLLOUT, EPOLLHUP or EPOLLERR. Hangup is
//     EPOLLRDHUP or EPOLLHUP; Err is EPOLLERR. For one-shot registrations
//     the kernel reports hang-ups and errors even for directions that were
//     not armed.
//   - On io_uring, the same from the poll mask in each CQE (POLLIN,
//     POLLRDHUP, POLLHUP, POLLERR and POLLOUT have epoll's values). A CQE's
//     mask is the one the wake-up carried (a pipe that got data reports
//     POLLIN alone), or the fd's whole mask when wake-ups were merged. A
//     poll that failed (EBADF: the fd was closed before Delete) reports
//     Readable, Writable and Err once and is not re-armed.
//   - On kqueue, Readable comes from EVFILT_READ and Writable from
//     EVFILT_WRITE; EV_EOF on either sets Hangup; EV_EOF with a socket error
//     in fflags sets Err and both directions.
//
// Hangup and Err are informational: the caller learns the details (EOF,
// ECONNRESET...) from the next read or write, which it must attempt anyway.
type Event struct {
	// Key is the key the fd was registered with.
	Key uint64
	// Readable reports that a read may make progress: data, end of file, or
	// an error is waiting.
	Readable bool
	// Writable reports that a write may make progress or will fail at once.
	Writable bool
	// Hangup reports that the peer shut down its write side (reads will reach
	// end of file once the buffered data is read) or the connection is gone.
	Hangup bool
	// Err reports an error condition pending on the fd (read it with
	// getsockopt SO_ERROR, or from the next read or write).
	Err bool
}

// ReservedKey is the one key value [Poller.Add] and [Poller.AddOneShot]
// refuse: the epoll backend uses it to recognize its own wake-up fd among
// the events, and the kqueue backend refuses it too so that both accept the
// same keys.
const ReservedKey = ^uint64(0)

// ErrClosed is returned by every method of a [Poller] once Close has begun.
var ErrClosed = errors.New("poller: closed")

// ErrReservedKey is returned by [Poller.Add] and [Poller.AddOneShot] for
// the key [ReservedKey].
var ErrReservedKey = errors.New("poller: key is ReservedKey")
