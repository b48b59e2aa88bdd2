package main

import (
	"bytes"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/hist"
)

// epConn is one connection's state in the epoll engine.
type epConn struct {
	fd    int
	seq   uint32
	msg   []byte // the request in flight
	wpos  int    // bytes of msg written so far
	rpos  int    // bytes of msg echoed and verified so far
	sent  int64  // nanotime just before the first write of msg
	n     int64  // requests completed inside the window
	armed bool   // EPOLLOUT is armed because a write was short
}

// epollEngine drives all connections from one goroutine with one epoll
// instance, level-triggered. Reads and writes on the non-blocking sockets
// use RawSyscall, which cannot block and so skips the Go scheduler's
// entersyscall/exitsyscall bookkeeping; epoll_wait first polls without
// blocking and only then blocks through the ordinary Syscall path, the
// same trick gnet uses.
type epollEngine struct {
	p     *payload
	conns []epConn
	epfd  int
	rbuf  []byte
	h     *hist.Hist
	meas  bool // inside the window
	total int64
	last  int64 // nanotime of the last completion (stall detection)
}

// runEpoll runs the ping-pong on already-connected non-blocking fds for
// warmup+dur, filling h and the per-connection counts, and returns the
// window and the counts.
func runEpoll(fds []int, p *payload, warmup, dur, stall time.Duration, w *window, h *hist.Hist) ([]int64, error) {
	e := &epollEngine{p: p, conns: make([]epConn, len(fds)), h: h}
	e.rbuf = make([]byte, p.size)
	var err error
	if e.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	defer unix.Close(e.epfd)

	// Register every connection for readability; the event carries the
	// connection's index.
	for i, fd := range fds {
		e.conns[i].fd = fd
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return nil, fmt.Errorf("epoll_ctl add: %w", err)
		}
	}

	// Put one request in flight on every connection.
	start := nanotime()
	e.last = start
	for i := range e.conns {
		if err := e.send(i); err != nil {
			return nil, err
		}
	}

	// Event loop: until the window closes, handle readiness, and open and
	// close the window on the clock.
	t0, t1 := start+int64(warmup), start+int64(warmup+dur)
	events := make([]unix.EpollEvent, 512)
	for {
		n, err := e.wait(events)
		if err != nil {
			return nil, fmt.Errorf("epoll_wait: %w", err)
		}
		now := nanotime()
		if !e.meas && now >= t0 {
			e.meas = true
			w.begin(now)
		} else if e.meas && now >= t1 {
			w.end(now)
			break
		}
		if n == 0 && now-e.last > int64(stall) {
			return nil, fmt.Errorf("no echo completed for %v: server stalled", stall)
		}
		for _, ev := range events[:n] {
			i := int(ev.Fd)
			if ev.Events&unix.EPOLLOUT != 0 {
				if err := e.flush(i); err != nil {
					return nil, err
				}
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				if err := e.read(i); err != nil {
					return nil, err
				}
			}
		}
	}
	counts := make([]int64, len(e.conns))
	for i := range e.conns {
		counts[i] = e.conns[i].n
	}
	return counts, nil
}

// wait returns ready events: first without blocking (no scheduler round
// trip when the loop is busy), then blocking for up to 100 ms so that the
// window's clock is checked even when nothing happens.
func (e *epollEngine) wait(events []unix.EpollEvent) (int, error) {
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_WAIT, uintptr(e.epfd),
			uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
		if errno == 0 && r > 0 {
			return int(r), nil
		}
		if errno != 0 && errno != unix.EINTR {
			return 0, errno
		}
		n, err := unix.EpollWait(e.epfd, events, 100)
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// send starts the next request on connection i.
func (e *epollEngine) send(i int) error {
	c := &e.conns[i]
	c.seq++
	c.msg = e.p.msg(i, c.seq)
	c.wpos, c.rpos = 0, 0
	c.sent = nanotime()
	return e.flush(i)
}

// flush writes what is left of connection i's request; a short write arms
// EPOLLOUT, and a completed one disarms it.
func (e *epollEngine) flush(i int) error {
	c := &e.conns[i]
	for c.wpos < len(c.msg) {
		r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.fd),
			uintptr(unsafe.Pointer(&c.msg[c.wpos])), uintptr(len(c.msg)-c.wpos))
		if errno == unix.EAGAIN {
			if !c.armed {
				c.armed = true
				return e.rearm(i, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLOUT)
			}
			return nil
		}
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return fmt.Errorf("conn %d: write: %w", i, errno)
		}
		c.wpos += int(r)
	}
	if c.armed {
		c.armed = false
		return e.rearm(i, unix.EPOLLIN|unix.EPOLLRDHUP)
	}
	return nil
}

func (e *epollEngine) rearm(i int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(i)}
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_MOD, e.conns[i].fd, &ev); err != nil {
		return fmt.Errorf("conn %d: epoll_ctl mod: %w", i, err)
	}
	return nil
}

// read takes what has arrived on connection i (never more than the rest of
// the current echo), verifies it against what was sent, and on a complete
// echo records the latency and starts the next request.
func (e *epollEngine) read(i int) error {
	c := &e.conns[i]
	want := len(c.msg) - c.rpos
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(c.fd),
		uintptr(unsafe.Pointer(&e.rbuf[0])), uintptr(want))
	switch {
	case errno == unix.EAGAIN || errno == unix.EINTR:
		return nil
	case errno != 0:
		return fmt.Errorf("conn %d: read: %w", i, errno)
	case r == 0:
		return fmt.Errorf("conn %d: server closed the connection", i)
	}
	got := e.rbuf[:r]
	if !bytes.Equal(got, c.msg[c.rpos:c.rpos+int(r)]) {
		return fmt.Errorf("conn %d: request %d: echo differs from what was sent at bytes %d..%d",
			i, c.seq, c.rpos, c.rpos+int(r))
	}
	c.rpos += int(r)
	if c.rpos < len(c.msg) {
		return nil
	}
	now := nanotime()
	e.last = now
	if e.meas {
		e.h.Record(now - c.sent)
		c.n++
		e.total++
	}
	return e.send(i)
}
