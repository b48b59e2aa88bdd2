package server

import (
	"errors"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/examples/miniredis/core"
	"github.com/smolgo/smol/examples/smoltls"
	"github.com/smolgo/smol/smolnet"
)

// conn is one client: the socket (and its TLS layer), the protocol
// session, and the links of the server's list of connections. As a
// future it is the connection's stackless task.
type conn struct {
	s          *Server
	raw        *smolnet.TCPConn
	tls        *smoltls.Conn        // nil for plain RESP
	hs         *smol.Task[struct{}] // the TLS handshake's coroutine, until it is done
	waker      smol.Waker           // of the connection's task, for pushes and the drain
	prev, next *conn
	sess       core.Session
	gone       bool
}

// Notify wakes the connection's task: it has output from a publisher, or
// must close.
func (c *conn) Notify() {
	if c.waker != nil {
		c.waker.Wake()
	}
}

// String names the connection in log lines.
func (c *conn) String() string { return c.raw.RemoteAddr().String() }

// Poll serves the connection: write what is unwritten; close if the
// session says so; run requests held back for the output; otherwise read
// and run what came. It is ready once the connection is closed.
//
// Shared buffers: reads go to the server's rbuf, and replies to its wbuf
// (UseScratch) while the output is empty; before Poll returns pending the
// session copies any unwritten replies out of wbuf (Retain), and the
// session already copied out of rbuf any partial request. So between polls
// the connection holds only what is in progress.
func (c *conn) Poll(cx *smol.Context) (struct{}, bool, error) {
	s := c.s
	c.waker = cx.Waker()
	if c.hs != nil {
		_, ok, err := c.hs.Poll(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		c.hs = nil
		if err != nil {
			return c.finish()
		}
	}
	c.sess.UseScratch(s.wbuf)
	for {
		if c.sess.Killed() {
			return c.finish()
		}
		if out := c.sess.Output(); len(out) > 0 {
			var n int
			var ok bool
			var err error
			if c.tls != nil {
				n, ok, err = c.tls.PollWrite(cx, out)
			} else {
				n, ok, err = c.raw.PollWrite(cx, out)
			}
			if !ok {
				return c.pending()
			}
			if err != nil {
				return c.finish()
			}
			c.sess.Consume(n)
			c.sess.UseScratch(s.wbuf)
			continue
		}
		if c.tls != nil {
			ok, err := c.tls.PollFlush(cx)
			if !ok {
				return c.pending()
			}
			if err != nil {
				return c.finish()
			}
		}
		if c.sess.Closing() {
			return c.finish()
		}
		if c.sess.Pending() {
			c.sess.Process()
			continue
		}
		var n int
		var ok bool
		var err error
		buf := s.rbuf // plaintext; TLS reads the socket into its own scratch
		if c.tls != nil {
			n, ok, err = c.tls.PollRead(cx, buf)
		} else {
			n, ok, err = c.raw.PollRead(cx, buf)
		}
		if !ok {
			// Draining: a connection with nothing in progress closes (see
			// drainer for why only once closeIdle is set). A read that is
			// pending only because the task's budget ran out says nothing
			// about the socket; Proceed tells (it fails, and wakes the
			// task, once the budget is spent).
			if s.closeIdle && c.sess.Idle() && cx.Proceed() {
				return c.finish()
			}
			return c.pending()
		}
		if err != nil || n == 0 {
			return c.finish()
		}
		c.sess.Feed(buf[:n])
	}
}

func (c *conn) pending() (struct{}, bool, error) {
	c.sess.Retain()
	return struct{}{}, false, nil
}

// finish closes the connection and leaves the server's list.
func (c *conn) finish() (struct{}, bool, error) {
	if c.gone {
		return struct{}{}, true, nil
	}
	c.gone = true
	c.sess.Close()
	if c.tls != nil {
		c.tls.Close()
	} else {
		c.raw.Close()
	}
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
	c.waker = nil
	s := c.s
	s.clients.Add(-1)
	if s.draining && s.conns.next == &s.conns && s.drainer != nil {
		s.drainer.Wake()
	}
	return struct{}{}, true, nil
}

// closeSocket closes the socket under the connection's task, which wakes
// it; its next operation fails and it finishes.
func (c *conn) closeSocket() {
	c.raw.Close()
}

// errWake ends a coroutine's read when the session has output to write
// or must close.
var errWake = errors.New("wake")

// coIO is the coroutine's read and write, as futures it reuses: each
// notes the task's waker (for pushes and the drain), and gives up when the
// session is killed, so a write blocked on a subscriber that does not read
// ends when the subscriber is disconnected.
type coIO struct {
	c     *conn
	r     coro.Reader
	w     coro.Writer
	p     []byte
	write bool
}

func (f *coIO) Poll(cx *smol.Context) (int, bool, error) {
	c := f.c
	c.waker = cx.Waker()
	if c.sess.Killed() {
		return 0, true, errClosed
	}
	if f.write {
		return f.w.PollWrite(cx, f.p)
	}
	if len(c.sess.Output()) > 0 {
		return 0, true, errWake // a publisher pushed output
	}
	n, ok, err := f.r.PollRead(cx, f.p)
	if !ok && c.s.closeIdle && c.sess.Idle() && cx.Proceed() {
		return 0, true, errClosed
	}
	return n, ok, err
}

// runCoro is the connection as a coroutine task: the same loop as Poll,
// written straight, with the connection's own read buffer and its output
// kept in the session.
func (c *conn) runCoro(co *coro.Co) (struct{}, error) {
	defer c.finish()
	s := c.s
	var w coro.Writer = c.raw
	var r coro.Reader = c.raw
	if c.tls != nil {
		if err := c.tls.Handshake(co, s.opts.HandshakeTimeout); err != nil {
			return struct{}{}, nil
		}
		w, r = c.tls, c.tls
	}
	rd := &coIO{c: c, r: r, p: make([]byte, 16<<10)}
	wr := &coIO{c: c, w: w, write: true}
	for {
		if c.sess.Killed() {
			return struct{}{}, nil
		}
		if out := c.sess.Output(); len(out) > 0 {
			wr.p = out
			n, err := coro.Await[int](co, wr)
			wr.p = nil
			if err != nil {
				return struct{}{}, nil
			}
			c.sess.Consume(n)
			continue
		}
		if c.tls != nil {
			if _, err := coro.Await(co, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
				ok, err := c.tls.PollFlush(cx)
				return struct{}{}, ok, err
			})); err != nil {
				return struct{}{}, nil
			}
		}
		if c.sess.Closing() {
			return struct{}{}, nil
		}
		if c.sess.Pending() {
			c.sess.Process()
			continue
		}
		n, err := coro.Await[int](co, rd)
		if err == errWake {
			continue
		}
		if err != nil || n == 0 {
			return struct{}{}, nil
		}
		c.sess.Feed(rd.p[:n])
	}
}
