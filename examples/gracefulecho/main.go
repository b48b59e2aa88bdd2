// Command gracefulecho is a line echo server that shuts down gracefully on
// SIGINT or SIGTERM: it stops accepting (new connections are refused), lets
// the open connections finish the request (line) they are in the middle
// of, closing each as soon as it is idle, and closes whatever is left when
// the drain deadline passes. Then it exits with status 0.
//
// Everything runs on one smol.LocalExecutor: the accept loop, one small
// state machine per connection, and the main flow, which awaits the
// signal stream (package signal) and then the drain under smol.Timeout. No
// goroutine per connection.
//
//	go run ./examples/gracefulecho -addr 127.0.0.1:7000 -drain 5s
//
// It prints "listening on ADDR" once it accepts, "shutting down: SIGNAL,
// N connections open" once it has stopped accepting, and, when it is done,
// "drained" or "closed N connections at the deadline".
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
	"github.com/smolgo/smol/signal"
	"github.com/smolgo/smol/smolnet"
)

var (
	addr  = flag.String("addr", "127.0.0.1:7000", "address to listen on")
	drain = flag.Duration("drain", 5*time.Second, "how long open connections may take to finish after a signal")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	os.Exit(run())
}

func run() int {
	// Catch the signals before anything can be interrupted.
	sigs, err := signal.Notify(syscall.SIGINT, syscall.SIGTERM)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer sigs.Close()
	ln, err := smolnet.Listen("tcp", *addr)
	if err != nil {
		log.Print(err)
		return 1
	}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	srv := &server{ex: ex, ln: ln, conns: map[*conn]struct{}{}}
	smol.SpawnOn(ex, srv).Detach()
	fmt.Println("listening on", ln.Addr())

	// Serve until a signal comes.
	sig, err := smol.Run(ex, sigs.Recv())
	if err != nil {
		log.Print(err)
		return 1
	}

	// Stop accepting: with the listener closed, new connections are
	// refused. Then tell every connection to finish.
	ln.Close()
	srv.draining.Store(true)
	srv.stop.Notify(event.All)
	fmt.Printf("shutting down: %v, %d connections open\n", sig, len(srv.conns))

	// Let them drain, under the deadline; close what is left.
	if _, err := smol.Run(ex, smol.Timeout[struct{}](srv.drained(), *drain)); err != nil {
		n := len(srv.conns)
		for c := range srv.conns {
			c.c.Close() // its task sees the error and ends
		}
		smol.Run(ex, srv.drained())
		fmt.Printf("closed %d connections at the deadline\n", n)
		return 0
	}
	fmt.Println("drained")
	return 0
}

// server accepts connections and spawns a task for each. Everything in it
// is touched only by tasks of its LocalExecutor, so on one goroutine,
// except draining, which main sets.
type server struct {
	ex       *smol.LocalExecutor
	ln       *smolnet.TCPListener
	buf      [64 << 10]byte // the read buffer every connection shares
	conns    map[*conn]struct{}
	draining atomic.Bool
	stop     event.Event // notified when draining starts
	gone     event.Event // notified when a connection ends
}

// Poll accepts until the listener is closed.
func (s *server) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		c, ok, err := s.ln.PollAccept(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil {
			return struct{}{}, true, nil // closed: shutting down
		}
		cn := &conn{srv: s, c: c}
		s.conns[cn] = struct{}{}
		smol.SpawnOn(s.ex, cn).Detach()
	}
}

// drained returns a future that is ready once no connection is open.
func (s *server) drained() smol.Future[struct{}] {
	var l event.Listener
	return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for len(s.conns) > 0 {
			if !l.Listening() {
				l.ListenTo(&s.gone)
				continue // re-check
			}
			if _, ok, _ := l.Poll(cx); !ok {
				return struct{}{}, false, nil
			}
		}
		if l.Listening() {
			l.Discard()
		}
		return struct{}{}, true, nil
	})
}

// conn echoes one connection line by line. Its request is a line: what it
// read after the last newline is a request in progress. While draining it
// closes as soon as it has written back every complete line and holds no
// partial one.
type conn struct {
	srv  *server
	c    *smolnet.TCPConn
	out  []byte // complete lines read, not yet written back
	line []byte // the line in progress
	stop event.Listener
}

func (e *conn) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		// Write back what is due; a client that does not read stops our
		// reading too.
		for len(e.out) > 0 {
			n, ok, err := e.c.PollWrite(cx, e.out)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return e.close()
			}
			e.out = e.out[n:]
		}
		e.out = nil
		// Idle while draining: done.
		if e.srv.draining.Load() && len(e.line) == 0 {
			return e.close()
		}
		n, ok, err := e.c.PollRead(cx, e.srv.buf[:])
		if !ok {
			// Wait for data, or for the shutdown (check, listen, re-check).
			if !e.srv.draining.Load() {
				if !e.stop.Listening() {
					e.stop.ListenTo(&e.srv.stop)
					continue
				}
				if _, ok, _ := e.stop.Poll(cx); ok {
					continue
				}
			}
			return struct{}{}, false, nil
		}
		if err != nil {
			return e.close() // end of stream, reset, or closed at the deadline
		}
		data := e.srv.buf[:n]
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			e.out = append(e.line, data[:i+1]...) // e.out was empty
			e.line = append([]byte(nil), data[i+1:]...)
		} else {
			e.line = append(e.line, data...)
		}
	}
}

func (e *conn) close() (struct{}, bool, error) {
	if e.stop.Listening() {
		e.stop.Discard()
	}
	e.c.Close()
	delete(e.srv.conns, e)
	e.srv.gone.Notify(event.All)
	return struct{}{}, true, nil
}
