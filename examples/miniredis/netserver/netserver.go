// Package netserver is miniredis the usual Go way, for comparison with
// package server: Go's net, a goroutine per connection, a 16 KiB read
// buffer per connection (what a bufio.Reader would hold) and a write
// buffer, and one mutex around the shared keyspace (package core, the same
// protocol code as the smol server). TLS is crypto/tls over net.
//
// A subscriber's goroutine is blocked reading its socket when another
// client publishes to it, so the publisher appends the message to the
// subscriber's output and interrupts that read with a read deadline in the
// past (a timeout leaves a tls.Conn usable); the subscriber's goroutine
// then writes. Expiry uses a time.AfterFunc timer on the real clock.
//
// Drain works as the smol server's does: stop accepting, let each
// connection finish what it has received, close each one once it is idle,
// and close the rest when the deadline passes.
package netserver

import (
	"crypto/tls"
	"errors"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smolgo/smol/examples/miniredis/core"
	"golang.org/x/sys/unix"
)

// Options configures a Server.
type Options struct {
	Limits core.Limits
	// TLS, if set, makes the server speak TLS with this configuration.
	TLS *tls.Config
	// HandshakeTimeout bounds a TLS handshake (default 10 s).
	HandshakeTimeout time.Duration
	// Logf receives the log lines; nil means log.Printf.
	Logf func(format string, args ...any)
}

// Server is miniredis on Go's net. Its methods may be called from any
// goroutine.
type Server struct {
	opts Options

	mu       sync.Mutex // guards db, every session, conns, draining
	db       *core.DB
	conns    map[*conn]struct{}
	draining bool
	ln       net.Listener
	exp      *time.Timer

	wg      sync.WaitGroup
	clients atomic.Int64
	drained chan struct{}
	once    sync.Once
}

// New returns a server with options opts.
func New(opts Options) *Server {
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	s := &Server{opts: opts, conns: make(map[*conn]struct{}), drained: make(chan struct{})}
	s.db = core.NewDB(opts.Limits, time.Now, opts.Logf)
	s.exp = time.AfterFunc(time.Hour, s.expire)
	s.exp.Stop()
	s.db.OnEarlier = func(t time.Time) { s.exp.Reset(time.Until(t)) }
	return s
}

// expire runs when the earliest deadline comes: it deletes the keys due
// and re-arms for the next.
func (s *Server) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.db.ExpireDue(time.Now(), 1000) {
	}
	if next, ok := s.db.NextExpiry(); ok {
		s.exp.Reset(time.Until(next))
	}
}

// Serve accepts connections on ln, a goroutine each, until Drain completes
// (it returns nil) or accepting fails.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	if s.draining {
		ln.Close() // Drain came first
	}
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			draining := s.draining
			s.mu.Unlock()
			if draining {
				<-s.drained
				return nil
			}
			return err
		}
		c := &conn{s: s, nc: nc, raw: nc}
		c.sess.Init(s.db, c)
		s.mu.Lock()
		if s.draining {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.clients.Add(1)
		go c.serve()
	}
}

// Drain stops accepting, lets connections finish what they have sent,
// closes each once idle, and closes the rest after timeout. Serve returns
// when all are closed. Drain does not wait.
func (s *Server) Drain(timeout time.Duration) {
	s.once.Do(func() {
		s.mu.Lock()
		s.draining = true
		if s.ln != nil {
			s.ln.Close()
		}
		for c := range s.conns {
			c.interrupt()
		}
		s.mu.Unlock()
		t := time.AfterFunc(timeout, func() {
			s.mu.Lock()
			for c := range s.conns {
				c.nc.Close()
			}
			s.mu.Unlock()
		})
		go func() {
			s.wg.Wait()
			t.Stop()
			s.exp.Stop()
			close(s.drained)
		}()
	})
}

// Clients returns the number of open connections.
func (s *Server) Clients() int { return int(s.clients.Load()) }

type conn struct {
	s    *Server
	nc   net.Conn // the connection: *net.TCPConn or *tls.Conn over it
	raw  net.Conn
	sess core.Session // guarded by s.mu
}

func (c *conn) String() string { return c.raw.RemoteAddr().String() }

// Notify is called with s.mu held when the session has output it did not
// ask for, or must close: interrupt the goroutine's read.
func (c *conn) Notify() {
	if c.sess.Killed() {
		c.nc.Close()
		return
	}
	c.interrupt()
}

func (c *conn) interrupt() { c.raw.SetReadDeadline(time.Unix(1, 0)) }

func (c *conn) serve() {
	s := c.s
	defer func() {
		c.nc.Close()
		s.mu.Lock()
		c.sess.Close()
		delete(s.conns, c)
		s.mu.Unlock()
		s.clients.Add(-1)
		s.wg.Done()
	}()
	if s.opts.TLS != nil {
		tc := tls.Server(c.raw, s.opts.TLS)
		c.raw.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
		if err := tc.Handshake(); err != nil {
			return
		}
		c.raw.SetDeadline(time.Time{})
		s.mu.Lock()
		c.nc = tc
		s.mu.Unlock()
	}
	buf := make([]byte, 16<<10)
	var wb []byte
	probed := false // draining: this read may take only what has arrived
	for {
		s.mu.Lock()
		if c.sess.Killed() {
			s.mu.Unlock()
			return
		}
		if out := c.sess.Output(); len(out) > 0 {
			// Write outside the lock, from a copy: publishers append to
			// the session's output meanwhile.
			wb = append(wb[:0], out...)
			c.sess.Consume(len(out))
			s.mu.Unlock()
			if _, err := c.nc.Write(wb); err != nil {
				return
			}
			continue
		}
		if c.sess.Closing() {
			s.mu.Unlock()
			return
		}
		if c.sess.Pending() {
			c.sess.Process()
			s.mu.Unlock()
			continue
		}
		draining, idle := s.draining, c.sess.Idle()
		s.mu.Unlock()
		if draining && idle && !probed {
			// Draining with nothing in progress: read only what has
			// arrived (a tls.Conn may hold whole records already).
			c.interrupt()
			probed = true
		}
		n, err := c.nc.Read(buf)
		if n > 0 {
			probed = false
			s.mu.Lock()
			c.sess.Feed(buf[:n])
			s.mu.Unlock()
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return // the end of the stream, an error, or closed
		}
		// Interrupted, by a publisher or by the drain: clear the deadline,
		// and close if draining with nothing in progress and nothing
		// waiting in the kernel.
		c.raw.SetReadDeadline(time.Time{})
		s.mu.Lock()
		draining, idle = s.draining, c.sess.Idle()
		s.mu.Unlock()
		if draining && idle && n == 0 {
			if !c.kernelHasData() {
				return
			}
			probed = true // the next read takes the waiting bytes
			continue
		}
		probed = false
	}
}

// kernelHasData peeks at the socket without consuming anything.
func (c *conn) kernelHasData() bool {
	sc, ok := c.raw.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	has := false
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		has = n > 0 || err == nil && n == 0 // data, or the peer's EOF to read
		return true
	})
	return has
}
