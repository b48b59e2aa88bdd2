// Command echo runs an echo server and a few clients on one goroutine.
//
// Every connection, server side and client side, is a small state machine
// (a struct with a Poll method) spawned as a task on a smol.LocalExecutor:
// no goroutine per connection. The server reads each connection into one
// buffer shared by the whole executor, so an idle connection holds no read
// buffer; a connection keeps only the bytes it read but could not yet
// write back. When a client shuts down its sending side (half-close), the
// server finishes writing back everything it received before it closes.
//
// Run it with `go run ./examples/echo`.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

const (
	clients    = 4
	roundTrips = 10
	bulkSize   = 256 << 10 // sent in one go, then half-closed
)

func main() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()

	// Start the server: one task accepts, one task per connection echoes.
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &server{ex: ex, ln: ln, buf: make([]byte, 64<<10)}
	smol.SpawnOn(ex, srv).Detach()
	fmt.Println("echo server listening on loopback")

	// Start the clients, then await each in turn: Run drives the executor,
	// so every client runs while the first is awaited.
	tasks := make([]*smol.Task[int], clients)
	for i := range tasks {
		tasks[i] = smol.SpawnOn(ex, newClient(i, ln.AddrPort().String()))
	}
	failed, total := 0, 0
	for i, t := range tasks {
		n, err := smol.Run(ex, t)
		if err != nil {
			fmt.Printf("client %d: %v\n", i, err)
			failed++
		}
		total += n
	}
	ln.Close()

	// Report.
	fmt.Printf("%d clients, %d round trips each, then %d KiB half-closed: %d bytes echoed, %d failed\n",
		clients, roundTrips, bulkSize>>10, total, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// server accepts connections and spawns an echo task for each. buf is the
// read buffer of every connection: the tasks all run on one LocalExecutor
// goroutine, and a task uses buf only within one poll, so they can share it.
type server struct {
	ex  *smol.LocalExecutor
	ln  *smolnet.TCPListener
	buf []byte
}

// Poll accepts every queued connection and spawns its echo task.
func (s *server) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		c, ok, err := s.ln.PollAccept(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil {
			// Closed: the demo is over. (Running out of file descriptors
			// is not an error: PollAccept backs off and stays pending.)
			return struct{}{}, true, nil
		}
		smol.SpawnOn(s.ex, &echoConn{c: c, buf: s.buf}).Detach()
	}
}

// echoConn echoes one connection. Its states, in one loop:
//
//	pending != nil   write back what was read; while the peer does not read,
//	                 stop reading too (back-pressure)
//	eof              the peer half-closed and everything is written: close
//	otherwise        read into the shared buffer and write it straight back;
//	                 keep a copy only of what the kernel did not take
type echoConn struct {
	c       *smolnet.TCPConn
	buf     []byte // shared; valid only during a poll
	pending []byte // read but not yet written back
	eof     bool
}

// Poll runs the echo loop until the connection would block. It needs no
// bound of its own on the work per poll: every read and write spends the
// task's cooperative budget, and once it is spent they report pending and
// wake the task, so a fast client cannot starve the others.
func (e *echoConn) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		// Write back what is left over from earlier reads.
		if len(e.pending) > 0 {
			n, ok, err := e.c.PollWrite(cx, e.pending)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return e.close()
			}
			e.pending = e.pending[n:]
			if len(e.pending) > 0 {
				continue
			}
			e.pending = nil
		}
		// The peer half-closed and all it sent is written back.
		if e.eof {
			return e.close()
		}
		// Read into the shared buffer.
		n, ok, err := e.c.PollRead(cx, e.buf)
		if !ok {
			return struct{}{}, false, nil
		}
		if errors.Is(err, io.EOF) {
			e.eof = true
			continue
		}
		if err != nil {
			return e.close()
		}
		// Write it straight back; copy only the part the kernel refused.
		w, ok, err := e.c.PollWrite(cx, e.buf[:n])
		if ok && err != nil {
			return e.close()
		}
		if w < n {
			e.pending = bytes.Clone(e.buf[w:n])
		}
	}
}

func (e *echoConn) close() (struct{}, bool, error) {
	e.c.Close()
	return struct{}{}, true, nil
}

// client dials the server, makes roundTrips request/response exchanges,
// then sends bulkSize bytes at once, shuts down its sending side, and reads
// the echo to the end: the server must echo all of it after the half-close.
type client struct {
	id   int
	dial smol.Future[*smolnet.TCPConn]
	c    *smolnet.TCPConn
	trip int    // round trips done
	out  []byte // still to write
	want []byte // what the echo must be
	got  []byte // echo received so far
	bulk bool   // in the half-closed phase
	buf  [4096]byte
	n    int // bytes echoed in total
}

func newClient(id int, addr string) *client {
	return &client{id: id, dial: smolnet.Dial("tcp", addr)}
}

// Poll runs the client until it waits on the socket or is done; it is
// ready with the number of bytes echoed, or fails.
func (c *client) Poll(cx *smol.Context) (int, bool, error) {
	// Connect.
	if c.c == nil {
		conn, ok, err := c.dial.Poll(cx)
		if !ok {
			return 0, false, nil
		}
		if err != nil {
			return 0, true, err
		}
		c.c = conn
		c.next()
	}
	for {
		// Send, while there is something to send.
		for len(c.out) > 0 {
			n, ok, err := c.c.PollWrite(cx, c.out)
			if !ok {
				break // the read below must run: the server echoes as we send
			}
			if err != nil {
				return c.fail(err)
			}
			c.out = c.out[n:]
			if len(c.out) == 0 && c.bulk {
				// Half-close: the server sees EOF after the last byte.
				if err := c.c.CloseWrite(); err != nil {
					return c.fail(err)
				}
			}
		}
		// Receive the echo.
		n, ok, err := c.c.PollRead(cx, c.buf[:])
		if !ok {
			return 0, false, nil
		}
		if errors.Is(err, io.EOF) {
			// The server closed: it must have echoed everything first.
			if !c.bulk || len(c.out) > 0 || !bytes.Equal(c.got, c.want) {
				return c.fail(fmt.Errorf("connection closed after %d of %d bytes", len(c.got), len(c.want)))
			}
			c.n += len(c.got)
			c.c.Close()
			return c.n, true, nil
		}
		if err != nil {
			return c.fail(err)
		}
		c.got = append(c.got, c.buf[:n]...)
		if !bytes.HasPrefix(c.want, c.got) {
			return c.fail(errors.New("echo differs from what was sent"))
		}
		if len(c.got) == len(c.want) && !c.bulk {
			c.n += len(c.got)
			c.next()
		}
	}
}

// next prepares the next message: a round trip, or the bulk send.
func (c *client) next() {
	c.got = c.got[:0]
	if c.trip < roundTrips {
		c.want = fmt.Appendf(c.want[:0], "client %d, message %d", c.id, c.trip)
		c.trip++
	} else {
		c.want = make([]byte, bulkSize)
		for i := range c.want {
			c.want[i] = byte(i*7 + c.id)
		}
		c.bulk = true
	}
	c.out = c.want
}

func (c *client) fail(err error) (int, bool, error) {
	c.c.Close()
	return c.n, true, err
}
