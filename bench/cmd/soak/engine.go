package main

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// conn is one connection's state. Only the request in flight is tracked;
// its bytes are regenerated from its key when they are written and when
// the echo is checked.
type conn struct {
	fd    int
	seq   uint64 // the request in flight: 1, 2, ...
	key   uint64 // requestKey(seed, index, seq)
	size  int    // its size
	wpos  int    // bytes of it written so far
	rpos  int    // bytes of its echo read and verified so far
	done  int64  // bytes of this connection's stream verified before it
	last  int64  // nanotime when a byte last moved either way, or the request started
	armed bool   // EPOLLOUT is armed because a write was short
}

// engine drives every connection from one goroutine with one epoll
// instance (level-triggered): each connection keeps one request in
// flight, sends it, reads back exactly as many bytes, checks each byte as
// it arrives, and sends the next.
type engine struct {
	seed  uint64
	sizes sizer
	stall time.Duration
	conns []conn
	epfd  int
	rbuf  []byte // what read returned
	ebuf  []byte // what it should have been
	wbuf  []byte // what to write

	// Progress, read by the sampler while run goes on.
	requests atomic.Int64 // echoes completed and verified
	bytes    atomic.Int64 // bytes of echo verified, complete requests or not
	stop     atomic.Bool  // set to make run return
}

// chunk is the most the engine reads or writes in one system call.
const chunk = 64 << 10

func newEngine(fds []int, seed uint64, sizes sizer, stall time.Duration) (*engine, error) {
	e := &engine{seed: seed, sizes: sizes, stall: stall, conns: make([]conn, len(fds)),
		rbuf: make([]byte, chunk), ebuf: make([]byte, chunk), wbuf: make([]byte, chunk)}
	var err error
	if e.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	for i, fd := range fds {
		e.conns[i].fd = fd
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(i)}
		if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(e.epfd)
			return nil, fmt.Errorf("epoll_ctl add: %w", err)
		}
	}
	return e, nil
}

// close releases the epoll instance; the connections are the caller's.
func (e *engine) close() { unix.Close(e.epfd) }

// run puts one request in flight on every connection and keeps them going
// until stop is set (it then returns nil within about 100 ms) or a
// connection fails (it returns the failure).
func (e *engine) run() error {
	now := nanotime()
	for i := range e.conns {
		if err := e.send(i, now); err != nil {
			return err
		}
	}
	events := make([]unix.EpollEvent, 512)
	nextScan := now + int64(time.Second)
	for !e.stop.Load() {
		n, err := e.wait(events)
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		now := nanotime()
		for _, ev := range events[:n] {
			i := int(ev.Fd)
			if ev.Events&unix.EPOLLOUT != 0 {
				if err := e.flush(i, now); err != nil {
					return err
				}
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				if err := e.read(i, now); err != nil {
					return err
				}
			}
		}
		// Once a second, look for a connection on which nothing moved
		// for longer than the stall bound.
		if now >= nextScan {
			nextScan = now + int64(time.Second)
			for i := range e.conns {
				if c := &e.conns[i]; now-c.last > int64(e.stall) {
					return e.errorf(i, "stalled: no byte moved for %v (sent %d of %d B, echo verified up to byte %d, stream byte %d)",
						time.Duration(now-c.last).Round(time.Millisecond), c.wpos, c.size, c.rpos, c.done+int64(c.rpos))
				}
			}
		}
	}
	return nil
}

// wait returns ready events: first without blocking, then blocking for up
// to 100 ms so that stop and the stall bound are checked even when nothing
// happens.
func (e *engine) wait(events []unix.EpollEvent) (int, error) {
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

// errorf returns a failure of connection i that names the connection (its
// index and source address), its request, and the request's size.
func (e *engine) errorf(i int, format string, args ...any) error {
	c := &e.conns[i]
	src := "?"
	if sa, err := unix.Getsockname(c.fd); err == nil {
		if a, ok := sa.(*unix.SockaddrInet4); ok {
			src = fmt.Sprintf("%d.%d.%d.%d:%d", a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3], a.Port)
		}
	}
	return fmt.Errorf("conn %d (%s): request %d (%d B, seed %d): %s",
		i, src, c.seq, c.size, e.seed, fmt.Sprintf(format, args...))
}

// send starts the next request on connection i.
func (e *engine) send(i int, now int64) error {
	c := &e.conns[i]
	c.done += int64(c.size)
	c.seq++
	c.key = requestKey(e.seed, i, c.seq)
	c.size = e.sizes.size(c.key)
	c.wpos, c.rpos = 0, 0
	c.last = now
	return e.flush(i, now)
}

// flush writes what is left of connection i's request; a short write arms
// EPOLLOUT, and a completed one disarms it.
func (e *engine) flush(i int, now int64) error {
	c := &e.conns[i]
	for c.wpos < c.size {
		b := e.wbuf[:min(c.size-c.wpos, chunk)]
		fill(b, c.key, c.wpos)
		r, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch {
		case errno == unix.EAGAIN:
			if !c.armed {
				c.armed = true
				return e.rearm(i, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLOUT)
			}
			return nil
		case errno == unix.EINTR:
			continue
		case errno != 0:
			return e.errorf(i, "write at byte %d (stream byte %d): %v", c.wpos, c.done+int64(c.wpos), errno)
		}
		c.wpos += int(r)
		c.last = now
	}
	if c.armed {
		c.armed = false
		return e.rearm(i, unix.EPOLLIN|unix.EPOLLRDHUP)
	}
	return nil
}

func (e *engine) rearm(i int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(i)}
	if err := unix.EpollCtl(e.epfd, unix.EPOLL_CTL_MOD, e.conns[i].fd, &ev); err != nil {
		return e.errorf(i, "epoll_ctl mod: %v", err)
	}
	return nil
}

// read takes what has arrived on connection i, never more than the rest of
// the current echo, and checks it against what was sent; on a complete echo
// it starts the next request.
func (e *engine) read(i int, now int64) error {
	c := &e.conns[i]
	want := min(c.size-c.rpos, chunk)
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(c.fd), uintptr(unsafe.Pointer(&e.rbuf[0])), uintptr(want))
	switch {
	case errno == unix.EAGAIN || errno == unix.EINTR:
		return nil
	case errno != 0:
		return e.errorf(i, "read at byte %d of the echo (stream byte %d): %v", c.rpos, c.done+int64(c.rpos), errno)
	case r == 0:
		return e.errorf(i, "short echo: the server closed the connection after %d of %d bytes (stream byte %d)",
			c.rpos, c.size, c.done+int64(c.rpos))
	}
	got, exp := e.rbuf[:r], e.ebuf[:r]
	fill(exp, c.key, c.rpos)
	if !bytes.Equal(got, exp) {
		k := 0
		for got[k] == exp[k] {
			k++
		}
		return e.errorf(i, "echo differs at byte %d (stream byte %d): got 0x%02x, want 0x%02x",
			c.rpos+k, c.done+int64(c.rpos+k), got[k], exp[k])
	}
	c.rpos += int(r)
	c.last = now
	e.bytes.Add(int64(r))
	if c.rpos < c.size {
		return nil
	}
	e.requests.Add(1)
	return e.send(i, now)
}
