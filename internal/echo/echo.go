// Package echo is the echo server that smolbench and the benchmark module
// run on smol: one small state machine per connection, all on one
// LocalExecutor, no goroutine per connection.
//
// An idle connection holds no read buffer. Every connection reads into one
// buffer shared by the executor's goroutine and writes straight from it; it
// keeps a copy only of bytes the kernel did not take at once, until they are
// written. That is how gnet and nbio reach a few hundred bytes per idle
// connection.
package echo

import (
	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

// Server accepts connections on a listener and echoes them, spawning one
// task per connection on its executor. It is itself a future, never ready
// unless accepting fails for good: run it with smol.Run.
type Server struct {
	ln    *smolnet.TCPListener
	ex    *smol.LocalExecutor
	buf   *Buffer
	OnErr func(error) // receives the accept error that stops the server; nil ignores it
}

// Buffer is the read buffer that the connections of one goroutine share.
type Buffer [64 << 10]byte

// NewServer returns a server for ln whose connection tasks run on ex.
func NewServer(ln *smolnet.TCPListener, ex *smol.LocalExecutor) *Server {
	return &Server{ln: ln, ex: ex, buf: new(Buffer)}
}

// Poll accepts every pending connection and spawns its task. It fails,
// with the error, only when accepting fails for good (the listener is
// closed). Accepting spends the task's budget, so a burst of connections
// is taken DefaultBudget at a time, with the connections' tasks in between.
func (s *Server) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		c, ok, err := s.ln.PollAccept(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil {
			if s.OnErr != nil {
				s.OnErr(err)
			}
			return struct{}{}, true, err
		}
		smol.SpawnOn(s.ex, &Conn{c: c, buf: s.buf}).Detach()
	}
}

// Conn echoes one connection: the socket, the shared read buffer, and the
// bytes not yet written back, if any; 24 bytes in all, since every idle
// connection holds one (TestIdleSizes keeps it so). The pending bytes are
// rare (the kernel took less than a whole echo), so they live behind a
// pointer that is nil the rest of the time.
type Conn struct {
	c    *smolnet.TCPConn
	buf  *Buffer
	pend *[]byte
}

// NewConn returns the state machine that echoes c, reading into buf, which
// it shares with every other Conn polled on the same goroutine.
func NewConn(c *smolnet.TCPConn, buf *Buffer) *Conn { return &Conn{c: c, buf: buf} }

// Poll echoes until the peer closes or an error occurs, then closes the
// connection and is ready. After the peer's half-close everything already
// read is still written back before the close. It needs no budget of its
// own: each read and write spends the task's cooperative budget, so a
// connection whose peer never pauses yields to the others after
// smol.DefaultBudget operations.
func (e *Conn) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		// Finish writing what is pending before reading more: a slow
		// reader stops this connection's reads (back-pressure).
		for e.pend != nil && len(*e.pend) > 0 {
			n, ok, err := e.c.PollWrite(cx, *e.pend)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				e.c.Close()
				return struct{}{}, true, nil
			}
			*e.pend = (*e.pend)[n:]
		}
		e.pend = nil
		n, ok, err := e.c.PollRead(cx, e.buf[:])
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil || n == 0 {
			e.c.Close()
			return struct{}{}, true, nil
		}
		m, ok, err := e.c.PollWrite(cx, e.buf[:n])
		if ok && err != nil {
			e.c.Close()
			return struct{}{}, true, nil
		}
		if m < n {
			// The shared buffer is reused by the next connection: keep a
			// copy of what is left.
			p := append([]byte(nil), e.buf[m:n]...)
			e.pend = &p
		}
	}
}
