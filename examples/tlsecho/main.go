// Command tlsecho is an echo server over TLS on the smol runtime, with
// crypto/tls unmodified (package smoltls), and the same server on Go's net
// for comparison; it also has a client mode that holds many idle TLS
// connections open, to measure what an idle connection costs each server
// (idlemem.sh).
//
//	go run ./examples/tlsecho -addr 127.0.0.1:8443            # smol, TLS, self-signed certificate
//	openssl s_client -connect 127.0.0.1:8443 -quiet           # type a line, get it back
//	go run ./examples/tlsecho -mode net                       # goroutine per connection, crypto/tls over net
//	go run ./examples/tlsecho -tls=false                      # plain TCP, for the baseline
//	go run ./examples/tlsecho -dial 5000 -addr 127.0.0.1:8443 # client: 5,000 idle TLS connections
//
// On smol every connection is a state machine on one LocalExecutor: its TLS
// handshake runs in a coroutine task, which ends with the handshake; after
// that an idle connection holds crypto/tls's record state and no goroutine
// and no read buffer (reads go through one buffer per executor). On net
// each connection is a goroutine with a 4 KiB buffer, as usual.
//
// The server prints its resident memory on SIGUSR1, after a garbage
// collection that returns freed memory to the system ("RSS bytes=N").
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/examples/smoltls"
	"github.com/smolgo/smol/smolnet"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "address to listen on, or to dial with -dial")
	mode := flag.String("mode", "smol", "server engine: smol (state machines) or net (goroutine per connection)")
	useTLS := flag.Bool("tls", true, "speak TLS")
	certFile := flag.String("cert", "", "certificate file (PEM); empty: self-signed")
	keyFile := flag.String("key", "", "key file (PEM)")
	dialN := flag.Int("dial", 0, "client mode: open this many connections to -addr, make one exchange on each, and hold them idle until stdin closes")
	proto := flag.String("proto", "echo", "client mode: the exchange, echo (a line echoed) or redis (PING, +PONG)")
	flag.Parse()

	if *dialN > 0 {
		hold(*addr, *dialN, *useTLS, *proto)
		return
	}
	var cfg *tls.Config
	if *useTLS {
		cert, err := smoltls.LoadOrSelfSigned(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	go reportRSS()
	switch *mode {
	case "smol":
		ln, err := smolnet.Listen("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("tlsecho: mode=smol tls=%v addr=%s pid=%d\n", *useTLS, ln.Addr(), os.Getpid())
		log.Fatal(Serve(ln, cfg))
	case "net":
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("tlsecho: mode=net tls=%v addr=%s pid=%d\n", *useTLS, ln.Addr(), os.Getpid())
		log.Fatal(ServeNet(ln, cfg))
	default:
		log.Fatalf("unknown -mode %q", *mode)
	}
}

// Serve echoes every connection accepted on ln, over TLS if cfg is not
// nil, on one LocalExecutor driven by the calling goroutine. It returns
// when accepting fails (ln closed).
func Serve(ln *smolnet.TCPListener, cfg *tls.Config) error {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	srv := &server{ex: ex, ln: ln, cfg: cfg, buf: make([]byte, 64<<10), sc: smoltls.NewScratch()}
	_, err := smol.Run(ex, srv)
	return err
}

type server struct {
	ex  *smol.LocalExecutor
	ln  *smolnet.TCPListener
	cfg *tls.Config
	buf []byte           // plaintext, shared by every connection
	sc  *smoltls.Scratch // TLS records, shared
}

// Poll accepts connections and spawns their tasks: for TLS, a coroutine
// for the handshake and the echo state machine, which awaits it first.
func (s *server) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		raw, ok, err := s.ln.PollAccept(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil {
			return struct{}{}, true, err
		}
		e := &echo{raw: raw, buf: s.buf}
		if s.cfg != nil {
			e.tls = smoltls.Server(raw, s.cfg, s.sc)
			e.hs = coro.Spawn(s.ex, func(co *coro.Co) (struct{}, error) {
				return struct{}{}, e.tls.Handshake(co, 10*time.Second)
			})
		}
		smol.SpawnOn(s.ex, e).Detach()
	}
}

// echo is one connection's state machine: read into the shared buffer,
// write it back, keep a copy only of what the kernel did not take.
type echo struct {
	raw  *smolnet.TCPConn
	tls  *smoltls.Conn
	hs   *smol.Task[struct{}]
	buf  []byte
	pend []byte
}

func (e *echo) Poll(cx *smol.Context) (struct{}, bool, error) {
	if e.hs != nil {
		_, ok, err := e.hs.Poll(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		e.hs = nil // the coroutine, and its goroutine, are gone
		if err != nil {
			return e.close()
		}
	}
	for {
		for len(e.pend) > 0 {
			n, ok, err := e.write(cx, e.pend)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return e.close()
			}
			e.pend = e.pend[n:]
		}
		e.pend = nil
		if e.tls != nil {
			// Records the kernel did not take: pending while the peer
			// does not read (back-pressure).
			ok, err := e.tls.PollFlush(cx)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return e.close()
			}
		}
		n, ok, err := e.read(cx, e.buf)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil || n == 0 {
			return e.close()
		}
		m, ok, err := e.write(cx, e.buf[:n])
		if ok && err != nil {
			return e.close()
		}
		if !ok {
			m = 0
		}
		if m < n {
			e.pend = append([]byte(nil), e.buf[m:n]...)
		}
	}
}

func (e *echo) read(cx *smol.Context, p []byte) (int, bool, error) {
	if e.tls != nil {
		return e.tls.PollRead(cx, p)
	}
	return e.raw.PollRead(cx, p)
}

func (e *echo) write(cx *smol.Context, p []byte) (int, bool, error) {
	if e.tls != nil {
		return e.tls.PollWrite(cx, p)
	}
	return e.raw.PollWrite(cx, p)
}

func (e *echo) close() (struct{}, bool, error) {
	if e.tls != nil {
		e.tls.Close()
	} else {
		e.raw.Close()
	}
	return struct{}{}, true, nil
}

// ServeNet is the same server on Go's net: a goroutine per connection with
// a 4 KiB buffer, crypto/tls over net.Conn.
func ServeNet(ln net.Listener, cfg *tls.Config) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			if cfg != nil {
				c = tls.Server(c, cfg)
			}
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// reportRSS prints the resident memory after a collection on SIGUSR1.
func reportRSS() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	for range sig {
		runtime.GC()
		debug.FreeOSMemory()
		fmt.Printf("RSS bytes=%d\n", rss())
	}
}

// rss reads VmRSS from /proc/self/status, in bytes (0 if unknown).
func rss() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// hold opens n connections to addr, makes one exchange on each (a line
// echoed, or PING answered by +PONG), prints "READY n", and holds them
// until stdin closes.
func hold(addr string, n int, useTLS bool, proto string) {
	conns := make([]net.Conn, 0, n)
	cfg := &tls.Config{InsecureSkipVerify: true} // the servers' certificates are self-signed
	msg, want := []byte("hello\n"), "hello\n"
	if proto == "redis" {
		msg, want = []byte("PING\r\n"), "+PONG\r\n"
	}
	buf := make([]byte, len(want))
	for i := range n {
		var c net.Conn
		var err error
		for try := 0; ; try++ {
			if useTLS {
				c, err = tls.Dial("tcp", addr, cfg)
			} else {
				c, err = net.Dial("tcp", addr)
			}
			if err == nil || try == 5 {
				break
			}
			time.Sleep(100 * time.Millisecond) // a full accept queue: try again
		}
		if err != nil {
			log.Fatalf("connection %d: %v", i, err)
		}
		if _, err := c.Write(msg); err != nil {
			log.Fatalf("connection %d: write: %v", i, err)
		}
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != want {
			log.Fatalf("connection %d: reply %q: %v", i, buf, errors.Join(err))
		}
		conns = append(conns, c)
	}
	fmt.Printf("READY %d\n", len(conns))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}
