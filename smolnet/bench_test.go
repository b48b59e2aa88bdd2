package smolnet_test

import (
	"io"
	"net"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

const benchMsg = 64

// pingClient makes n round trips of a benchMsg-byte message, as a future.
type pingClient struct {
	c    *smolnet.TCPConn
	n    int
	msg  [benchMsg]byte
	buf  [benchMsg]byte
	sent int // bytes of the current message written
	got  int // bytes of the echo read
}

func (p *pingClient) Poll(cx *smol.Context) (struct{}, bool, error) {
	for p.n > 0 {
		for p.sent < benchMsg {
			n, ok, err := p.c.PollWrite(cx, p.msg[p.sent:])
			if !ok || err != nil {
				return struct{}{}, ok, err
			}
			p.sent += n
		}
		for p.got < benchMsg {
			n, ok, err := p.c.PollRead(cx, p.buf[p.got:])
			if !ok || err != nil {
				return struct{}{}, ok, err
			}
			p.got += n
		}
		p.sent, p.got = 0, 0
		p.n--
	}
	return struct{}{}, true, nil
}

// BenchmarkEchoSmol: a 64-byte ping-pong on loopback with the client and
// the server as state machines on one LocalExecutor, one goroutine. Every
// allocation in the process during the loop counts; after warm-up there
// should be none.
func BenchmarkEchoSmol(b *testing.B) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	ln := listen(b)
	serveEcho[*smolnet.TCPConn](b, ex, ln)
	c, err := smol.Run(ex, smolnet.Dial("tcp", ln.AddrPort().String()))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	p := &pingClient{c: c, n: 1000}
	if _, err := smol.Run(ex, p); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	p.n = b.N
	if _, err := smol.Run(ex, p); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkEchoSmolServer: the server is a state machine on a LocalExecutor
// goroutine; the client is a std net.Conn on the benchmark goroutine
// (which allocates nothing per round trip either), so the allocations
// counted are the server's.
func BenchmarkEchoSmolServer(b *testing.B) {
	ex := startExecutor(b)
	ln := listen(b)
	serveEcho[*smolnet.TCPConn](b, ex, ln)
	c, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	benchPingPong(b, c)
}

// BenchmarkEchoNet: the same with std net on both sides, a goroutine per
// connection.
func BenchmarkEchoNet(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		buf := make([]byte, 4096)
		for {
			n, err := s.Read(buf)
			if err != nil {
				return
			}
			if _, err := s.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	benchPingPong(b, c)
	c.Close()
	<-done
}

func benchPingPong(b *testing.B, c net.Conn) {
	msg := make([]byte, benchMsg)
	buf := make([]byte, benchMsg)
	round := func() {
		if _, err := c.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
	for range 1000 {
		round()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		round()
	}
}
