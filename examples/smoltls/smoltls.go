// Package smoltls serves TLS with the standard library's crypto/tls,
// unmodified, on smol's sockets, with no goroutine per connection once the
// handshake is done.
//
// # How
//
// A tls.Conn reads and writes through a net.Conn of ours. After the
// handshake that net.Conn never blocks: its Read returns the socket bytes
// the connection's task has handed it, and when there are none it fails
// with an error whose Temporary method reports true. crypto/tls treats
// such a read error as retryable: it returns it from tls.Conn.Read without
// recording it, keeping the part of a record it already has (see
// readRecordOrCCS in crypto/tls/conn.go: "if e, ok := err.(net.Error); !ok
// || !e.Temporary() { c.in.setErrorLocked(err) }"). So Conn.PollRead asks
// tls.Conn.Read for plaintext, and when it is told "would block" it polls
// the socket, hands over what came, and asks again: a poll-style read, in a
// state machine, with the decryption done by crypto/tls. Writes cannot
// work that way (crypto/tls records every write error for good), so the
// net.Conn's Write never fails: it appends the records to a buffer, and
// PollWrite and PollFlush write that buffer to the socket as it takes it.
//
// The handshake cannot be resumed after a "would block" either: its state
// lives on the stack of tls.Conn.Handshake, and a handshake error is kept
// for good. So the handshake runs in a coroutine task (package coro):
// Conn.Handshake is called inside one, and its reads and writes suspend
// the coroutine, under a deadline on the executor's clock. That coroutine
// has a goroutine stack of its own for as long as the handshake lasts
// (a round trip or two, and the public-key work); after it, the connection
// is a plain state machine again, and an idle one holds what crypto/tls
// keeps (the record layer's keys and buffers), not a goroutine.
//
// # Buffers
//
// A connection borrows a read buffer for the socket's bytes only during
// PollRead (Config.Scratch, shared by every connection polled on one
// goroutine); bytes crypto/tls did not take before PollRead returns are
// copied. Encrypted output that the kernel did not take at once is kept
// per connection until it is written; Buffered reports its size, for
// back-pressure.
package smoltls

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/smolnet"
)

// Conn is a server-side TLS connection over a smolnet.TCPConn. Its methods
// are for one task at a time, like a state machine's socket.
type Conn struct {
	raw  *smolnet.TCPConn
	tc   *tls.Conn
	nb   nbConn
	done bool // handshake complete: nb never blocks
}

// Scratch holds the buffers that connections polled on one goroutine
// share: Read receives the socket's bytes during PollRead, Write the
// records of a PollWrite until the kernel has taken them. Each should hold
// at least one record (16 KiB and some); 64 KiB is a good size.
type Scratch struct {
	Read, Write []byte
}

// NewScratch returns a Scratch of two 64 KiB buffers.
func NewScratch() *Scratch {
	return &Scratch{Read: make([]byte, 64<<10), Write: make([]byte, 0, 64<<10)}
}

// Server returns a TLS server connection over raw with config cfg (which
// must hold a certificate), using the shared buffers sc. Call Handshake,
// inside a coroutine task, before the poll methods.
func Server(raw *smolnet.TCPConn, cfg *tls.Config, sc *Scratch) *Conn {
	c := &Conn{raw: raw}
	c.nb.c = c
	c.nb.sc = sc
	c.tc = tls.Server(&c.nb, cfg)
	return c
}

// Handshake runs the TLS handshake inside the coroutine co, suspending it
// while the socket is not ready, and fails with smol.ErrTimeout if it takes
// longer than timeout (on the executor's clock; 0 means no limit). On
// error the connection is unusable: close it.
func (c *Conn) Handshake(co *coro.Co, timeout time.Duration) error {
	c.nb.co = co
	if timeout > 0 {
		c.nb.deadline = co.Driver().Now().Add(timeout)
	}
	err := c.tc.Handshake()
	c.nb.co = nil
	if err == nil {
		c.done = true
	}
	return err
}

// ConnectionState returns the TLS state: version, cipher suite, ALPN.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// TCP returns the underlying socket.
func (c *Conn) TCP() *smolnet.TCPConn { return c.raw }

// String describes the connection for task dumps and logs.
func (c *Conn) String() string { return "tls " + c.raw.String() }

// PollRead reads decrypted bytes into p, as TCPConn.PollRead does: pending
// until a whole record has arrived, then ready with its bytes (n > 0),
// io.EOF after the peer's close_notify or the end of the stream at a
// record boundary, or an error.
func (c *Conn) PollRead(cx *smol.Context, p []byte) (int, bool, error) {
	if !c.done {
		return 0, true, errNoHandshake
	}
	for {
		n, err := c.tc.Read(p)
		if n > 0 {
			// crypto/tls may not have taken all the socket bytes: keep
			// them past this poll, out of the shared buffer.
			c.nb.own()
			return n, true, nil
		}
		if err != errWouldBlock {
			c.nb.in = nil
			return 0, true, err
		}
		// crypto/tls needs more of the socket's bytes.
		m, ok, err := c.raw.PollRead(cx, c.nb.sc.Read)
		if !ok {
			return 0, false, nil
		}
		if err != nil {
			return 0, true, err // io.EOF mid-record included
		}
		c.nb.in = c.nb.sc.Read[:m]
		c.nb.owned = false
	}
}

// PollWrite encrypts p and writes it. It is pending only while ciphertext
// of earlier writes is still unwritten (back-pressure); otherwise it is
// ready with len(p), even if the kernel took only part of the new records:
// the rest is kept and written by the next PollWrite or PollFlush.
func (c *Conn) PollWrite(cx *smol.Context, p []byte) (int, bool, error) {
	if !c.done {
		return 0, true, errNoHandshake
	}
	if ok, err := c.PollFlush(cx); !ok || err != nil {
		return 0, ok, err
	}
	c.nb.out, c.nb.outShared = c.nb.sc.Write[:0], true
	if _, err := c.tc.Write(p); err != nil {
		return 0, true, err
	}
	if _, err := c.PollFlush(cx); err != nil {
		return 0, true, err
	}
	return len(p), true, nil
}

// PollFlush writes the ciphertext still buffered. It is ready once all of
// it is written (or with an error), pending while the kernel's send buffer
// is full.
func (c *Conn) PollFlush(cx *smol.Context) (bool, error) {
	for len(c.nb.out) > 0 {
		n, ok, err := c.raw.PollWrite(cx, c.nb.out)
		if !ok {
			c.nb.ownOut()
			return false, nil
		}
		if err != nil {
			c.nb.out, c.nb.outShared = nil, false
			return true, err
		}
		c.nb.out = c.nb.out[n:]
	}
	c.nb.out, c.nb.outShared = nil, false
	return true, nil
}

// Buffered returns how many bytes of ciphertext are waiting to be written.
func (c *Conn) Buffered() int { return len(c.nb.out) }

// Close sends a close_notify alert if the kernel takes it at once, and
// closes the socket.
func (c *Conn) Close() error {
	if c.done && len(c.nb.out) == 0 {
		c.nb.out, c.nb.outShared = c.nb.sc.Write[:0], true
		if c.tc.CloseWrite() == nil {
			c.raw.PollWrite(smol.NewContext(smol.NoopWaker), c.nb.out)
		}
		c.nb.out, c.nb.outShared = nil, false
	}
	return c.raw.Close()
}

var errNoHandshake = errors.New("smoltls: handshake not done")

// errWouldBlock is what nbConn.Read returns when it has no bytes: a
// net.Error whose Temporary is true, which crypto/tls passes up without
// making it permanent.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "smoltls: would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// nbConn is the net.Conn under the tls.Conn. During the handshake (co set)
// it blocks by suspending the coroutine; after it, Read returns what
// PollRead handed it or errWouldBlock, and Write appends to out.
type nbConn struct {
	c         *Conn
	co        *coro.Co
	deadline  time.Time
	in        []byte // socket bytes for crypto/tls
	owned     bool   // in is ours, not the shared scratch
	out       []byte // ciphertext to write
	outShared bool   // out may be the shared scratch
	sc        *Scratch
}

func (b *nbConn) Read(p []byte) (int, error) {
	if b.co != nil {
		f := b.c.raw.Read(p)
		if !b.deadline.IsZero() {
			f = smol.Deadline(f, b.deadline)
		}
		return coro.Await(b.co, f)
	}
	if len(b.in) == 0 {
		return 0, errWouldBlock
	}
	n := copy(p, b.in)
	b.in = b.in[n:]
	if len(b.in) == 0 {
		b.in = nil
	}
	return n, nil
}

func (b *nbConn) Write(p []byte) (int, error) {
	if b.co != nil {
		f := b.c.raw.WriteAll(p)
		if !b.deadline.IsZero() {
			f = smol.Deadline(f, b.deadline)
		}
		return coro.Await(b.co, f)
	}
	b.out = append(b.out, p...)
	return len(p), nil
}

// own copies the unread socket bytes out of the shared read buffer.
func (b *nbConn) own() {
	if len(b.in) > 0 && !b.owned {
		b.in = append([]byte(nil), b.in...)
		b.owned = true
	}
}

// ownOut copies unwritten ciphertext out of the shared write buffer.
func (b *nbConn) ownOut() {
	if b.outShared {
		b.out = append([]byte(nil), b.out...)
		b.outShared = false
	}
}

func (b *nbConn) Close() error                       { return nil } // Conn.Close closes the socket
func (b *nbConn) LocalAddr() net.Addr                { return b.c.raw.LocalAddr() }
func (b *nbConn) RemoteAddr() net.Addr               { return b.c.raw.RemoteAddr() }
func (b *nbConn) SetDeadline(t time.Time) error      { return nil }
func (b *nbConn) SetReadDeadline(t time.Time) error  { return nil }
func (b *nbConn) SetWriteDeadline(t time.Time) error { return nil }
