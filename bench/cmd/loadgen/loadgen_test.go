package main

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/hist"
	"github.com/smolgo/smol/bench/internal/stats"
)

// testServer is an in-process echo server. mangle, if set, may alter each
// chunk before it is echoed (n counts the chunks seen on the connection);
// returning nil swallows the chunk.
type testServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	mangle func(n int, b []byte) []byte
}

func startServer(t *testing.T, mangle func(n int, b []byte) []byte) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{ln: ln, mangle: mangle}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				buf := make([]byte, 4096)
				for n := 0; ; n++ {
					k, err := c.Read(buf)
					if err != nil {
						return
					}
					out := buf[:k]
					if s.mangle != nil {
						out = s.mangle(n, out)
					}
					if out != nil {
						if _, err := c.Write(out); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) stop() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *testServer) dst() *unix.SockaddrInet4 {
	ap := netip.MustParseAddrPort(s.ln.Addr().String())
	return &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
}

// runEngine runs a short ping-pong with the given engine against s.
func runEngine(t *testing.T, s *testServer, engine string, conns, size int, stall time.Duration) ([]int64, *hist.Hist, error) {
	t.Helper()
	p := newPayload(size)
	h := new(hist.Hist)
	w := &window{}
	const warm, dur = 20 * time.Millisecond, 150 * time.Millisecond
	switch engine {
	case "epoll":
		fds := make([]int, conns)
		for i := range fds {
			fds[i] = -1
		}
		defer func() {
			for _, fd := range fds {
				if fd >= 0 {
					unix.Close(fd)
				}
			}
		}()
		if err := dialAll(conns, 4, false, func(i int) (err error) {
			fds[i], err = dialRaw(srcAddr(i, 4), s.dst(), p.msg(i, 0), 5*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		counts, err := runEpoll(fds, p, warm, dur, stall, w, h)
		return counts, h, err
	default:
		cs := make([]net.Conn, conns)
		if err := dialAll(conns, 4, false, func(i int) (err error) {
			cs[i], err = dialNet(srcAddr(i, 4), s.ln.Addr().String(), p.msg(i, 0), 5*time.Second)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		counts, err := runGoroutines(cs, p, warm, dur, stall, w, h)
		return counts, h, err
	}
}

func TestEchoEngines(t *testing.T) {
	for _, engine := range []string{"epoll", "goroutine"} {
		for _, size := range []int{64, 4096} {
			s := startServer(t, nil)
			counts, h, err := runEngine(t, s, engine, 8, size, 5*time.Second)
			if err != nil {
				t.Fatalf("%s/%d: %v", engine, size, err)
			}
			var sum int64
			for _, c := range counts {
				sum += c
			}
			if sum == 0 || uint64(sum) != h.Count() {
				t.Fatalf("%s/%d: per-connection counts sum to %d, histogram has %d", engine, size, sum, h.Count())
			}
			if j := stats.Jain(counts); j <= 0 || j > 1 {
				t.Fatalf("%s/%d: Jain index %v", engine, size, j)
			}
			s.stop()
		}
	}
}

func TestVerificationCatchesCorruption(t *testing.T) {
	for _, engine := range []string{"epoll", "goroutine"} {
		// Flip one byte of the fifth chunk a connection echoes.
		s := startServer(t, func(n int, b []byte) []byte {
			if n == 5 {
				b[len(b)/2] ^= 0x40
			}
			return b
		})
		_, _, err := runEngine(t, s, engine, 2, 64, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "differs") {
			t.Fatalf("%s: corrupted echo not reported, err = %v", engine, err)
		}
		s.stop()
	}
}

func TestVerificationCatchesStaleEcho(t *testing.T) {
	// Echo the first request again instead of the fourth: the same bytes
	// as an earlier message, so only per-request payloads catch it.
	for _, engine := range []string{"epoll", "goroutine"} {
		// One connection, so one handler goroutine calls mangle.
		var first []byte
		s := startServer(t, func(n int, b []byte) []byte {
			if n == 1 {
				first = append([]byte(nil), b...)
			}
			if n == 4 {
				return first
			}
			return b
		})
		_, _, err := runEngine(t, s, engine, 1, 64, 5*time.Second)
		if err == nil || !strings.Contains(err.Error(), "differs") {
			t.Fatalf("%s: stale echo not reported, err = %v", engine, err)
		}
		s.stop()
	}
}

func TestStallIsReported(t *testing.T) {
	for _, engine := range []string{"epoll", "goroutine"} {
		// Echo the dial check and two more requests, then go silent.
		s := startServer(t, func(n int, b []byte) []byte {
			if n >= 3 {
				return nil
			}
			return b
		})
		_, _, err := runEngine(t, s, engine, 2, 64, 50*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("%s: stall not reported, err = %v", engine, err)
		}
		s.stop()
	}
}

func TestPayloadConsecutiveDiffer(t *testing.T) {
	p := newPayload(64)
	for conn := 0; conn < 50; conn++ {
		for seq := uint32(0); seq < 600; seq++ {
			a, b := p.msg(conn, seq), p.msg(conn, seq+1)
			if string(a) == string(b) {
				t.Fatalf("conn %d: requests %d and %d have the same payload", conn, seq, seq+1)
			}
		}
	}
}
