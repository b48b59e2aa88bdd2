package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/echoserver"
	"github.com/smolgo/smol/bench/internal/result"
)

// What the test server does with a connection after a chunk.
const (
	keep      = iota
	closeConn // close the connection normally
	resetConn // close it with SO_LINGER 0: the peer sees a reset
)

// testServer is an in-process echo server, a goroutine per connection.
// mangle, if set, may alter each chunk before it is echoed (n counts the
// chunks read on the connection) and say what to do next; returning nil
// swallows the chunk.
type testServer struct {
	ln     net.Listener
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	mangle func(n int, b []byte) ([]byte, int)
}

func startServer(t *testing.T, mangle func(n int, b []byte) ([]byte, int)) *testServer {
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
			go s.echo(c)
		}
	}()
	t.Cleanup(s.stop)
	return s
}

func (s *testServer) echo(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	buf := make([]byte, 16<<10)
	for n := 0; ; n++ {
		k, err := c.Read(buf)
		if err != nil {
			return
		}
		out, next := buf[:k], keep
		if s.mangle != nil {
			out, next = s.mangle(n, out)
		}
		if out != nil {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		switch next {
		case closeConn:
			return
		case resetConn:
			_ = c.(*net.TCPConn).SetLinger(0)
			return
		}
	}
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

// soak runs the engine against s with conns connections for dur, and
// returns the engine (for its counters) and the error run returned.
func soak(t *testing.T, s *testServer, conns int, sizes sizer, dur, stall time.Duration) (*engine, error) {
	t.Helper()
	ap := netip.MustParseAddrPort(s.ln.Addr().String())
	fds, err := dialAll(conns, 4, 4, &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	e, err := newEngine(fds, 7, sizes, stall)
	if err != nil {
		t.Fatal(err)
	}
	defer e.close()
	errc := make(chan error, 1)
	go func() { errc <- e.run() }()
	select {
	case err := <-errc:
		return e, err
	case <-time.After(dur):
	}
	e.stop.Store(true)
	return e, <-errc
}

var defaultSizes = sizer{min: 1, max: 64 << 10, log: true}

func TestSoakHonestServer(t *testing.T) {
	for _, sz := range []sizer{defaultSizes, {min: 1, max: 64 << 10}, {min: 100 << 10, max: 300 << 10}} {
		s := startServer(t, nil)
		e, err := soak(t, s, 20, sz, 300*time.Millisecond, 5*time.Second)
		if err != nil {
			t.Fatalf("%+v: %v", sz, err)
		}
		if e.requests.Load() < 20 || e.bytes.Load() == 0 {
			t.Fatalf("%+v: %d requests, %d bytes verified", sz, e.requests.Load(), e.bytes.Load())
		}
		// Every completed request was verified in full.
		var full int64
		for i := range e.conns {
			full += e.conns[i].done
		}
		if b := e.bytes.Load(); b < full {
			t.Fatalf("%+v: %d bytes verified but the completed requests hold %d", sz, b, full)
		}
		s.stop()
	}
}

// TestSoakFailures injects each kind of failure into the echo and checks
// that it is reported, with the connection and the offset.
func TestSoakFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		mangle func(n int, b []byte) ([]byte, int)
		stall  time.Duration
		want   string
	}{
		{"corrupted byte", func(n int, b []byte) ([]byte, int) {
			if n == 5 {
				b[len(b)/2] ^= 0x40
			}
			return b, keep
		}, 5 * time.Second, "echo differs at byte"},
		{"stale echo", func() func(int, []byte) ([]byte, int) {
			var first []byte
			var mu sync.Mutex
			return func(n int, b []byte) ([]byte, int) {
				mu.Lock()
				defer mu.Unlock()
				if first == nil {
					first = append([]byte(nil), b...)
				}
				if n == 4 {
					return append([]byte(nil), first[:min(len(first), len(b))]...), keep
				}
				return b, keep
			}
		}(), 5 * time.Second, "echo differs at byte"},
		{"one byte too many", func(n int, b []byte) ([]byte, int) {
			if n == 3 {
				return append(b, 0), keep
			}
			return b, keep
		}, 5 * time.Second, "echo differs at byte"},
		{"short echo, then close", func(n int, b []byte) ([]byte, int) {
			if n == 3 && len(b) > 1 {
				return b[:len(b)/2], closeConn
			}
			return b, keep
		}, 5 * time.Second, "short echo: the server closed the connection after"},
		{"reset", func(n int, b []byte) ([]byte, int) {
			if n == 3 {
				return nil, resetConn
			}
			return b, keep
		}, 5 * time.Second, "connection reset by peer"},
		{"stall", func(n int, b []byte) ([]byte, int) {
			if n >= 3 {
				return nil, keep
			}
			return b, keep
		}, 1500 * time.Millisecond, "stalled: no byte moved for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := startServer(t, c.mangle)
			_, err := soak(t, s, 4, defaultSizes, 10*time.Second, c.stall)
			if err == nil {
				t.Fatal("not reported")
			}
			msg := err.Error()
			t.Log(msg)
			for _, w := range []string{c.want, "conn ", "(127.0.0.", "request ", "seed 7", "stream byte "} {
				if !strings.Contains(msg, w) {
					t.Fatalf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestFillAnySplit(t *testing.T) {
	const n = 1000
	whole := make([]byte, n)
	fill(whole, 42, 0)
	for _, split := range [][]int{{0, 1, 9, 17, 100, 999, 1000}, {0, 3, 5, 8, 16, 24, 1000}, {0, 7, 500, 501, 1000}} {
		got := make([]byte, n)
		for i := 0; i+1 < len(split); i++ {
			fill(got[split[i]:split[i+1]], 42, split[i])
		}
		if !bytes.Equal(got, whole) {
			t.Fatalf("split %v differs from one fill", split)
		}
	}
}

func TestContentDiffers(t *testing.T) {
	// Keys of neighbouring requests and connections all differ, and so do
	// their first 16 bytes.
	seen := map[uint64]bool{}
	heads := map[string]bool{}
	b := make([]byte, 16)
	for conn := 0; conn < 100; conn++ {
		for seq := uint64(1); seq <= 100; seq++ {
			k := requestKey(1, conn, seq)
			fill(b, k, 0)
			if seen[k] || heads[string(b)] {
				t.Fatalf("conn %d request %d repeats an earlier key or content", conn, seq)
			}
			seen[k], heads[string(b)] = true, true
		}
	}
	if requestKey(1, 0, 1) == requestKey(2, 0, 1) {
		t.Fatal("the seed does not change the key")
	}
}

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		s        sizer
		under256 [2]float64 // the fraction of sizes below 256 B lies in this range
		loSeen   int        // the smallest size seen is at most this
		hiSeen   int        // the largest size seen is at least this
	}{
		// log-uniform over 1..65536: half the sizes are under 256 B, and
		// one in 16 is 1 B.
		{sizer{min: 1, max: 65536, log: true}, [2]float64{0.47, 0.53}, 1, 60000},
		// uniform: 255/65536 of them.
		{sizer{min: 1, max: 65536}, [2]float64{0.002, 0.006}, 10, 65500},
	} {
		lo, hi, under := 1<<30, 0, 0
		const draws = 200000
		for i := 0; i < draws; i++ {
			n := c.s.size(requestKey(3, i, 1))
			if n < c.s.min || n > c.s.max {
				t.Fatalf("%+v: size %d out of range", c.s, n)
			}
			lo, hi = min(lo, n), max(hi, n)
			if n < 256 {
				under++
			}
		}
		f := float64(under) / draws
		if lo > c.loSeen || hi < c.hiSeen || f < c.under256[0] || f > c.under256[1] {
			t.Fatalf("%+v: sizes %d..%d, %.3f under 256 B", c.s, lo, hi, f)
		}
	}
	if n := (sizer{min: 5, max: 5, log: true}).size(9); n != 5 {
		t.Fatalf("fixed size 5 drew %d", n)
	}
}

// startCtl serves the "stats" command of the control protocol for this
// process; old makes it answer like a server that predates "stats".
func startCtl(t *testing.T, old bool) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if old || sc.Text() != "stats" {
						fmt.Fprintf(c, "error unknown command\n")
						continue
					}
					b, _ := json.Marshal(echoserver.ReadStats())
					fmt.Fprintf(c, "stats %s\n", b)
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestRun runs the whole soak against an in-process server, this test's
// own process standing in for the server's /proc entries and control port:
// once as it is, once with goroutines leaking during the run, once with a
// control port that does not know "stats".
func TestRun(t *testing.T) {
	opts := func(s *testServer, ctl string) *options {
		return &options{addr: s.ln.Addr().String(), ctl: ctl, pid: os.Getpid(), label: "test", dist: "log",
			conns: 4, minSize: 1, maxSize: 64 << 10, sources: 4, workers: 4, seed: 1,
			dur: 1200 * time.Millisecond, interval: 200 * time.Millisecond, stall: 5 * time.Second, dialT: 5 * time.Second,
			out: t.TempDir()}
	}

	t.Run("healthy", func(t *testing.T) {
		o := opts(startServer(t, nil), startCtl(t, false))
		rep := run(o)
		if !rep.Pass || len(rep.Failures) != 0 || len(rep.Samples) != 7 || len(rep.Verdicts) != 3 {
			t.Fatalf("pass %v, failures %q, %d samples, %d verdicts", rep.Pass, rep.Failures, len(rep.Samples), len(rep.Verdicts))
		}
		last := rep.Samples[6]
		if last.Requests == 0 || last.Bytes == 0 || last.RSS == 0 || last.FDs == 0 || last.Goroutines == 0 {
			t.Fatalf("last sample %+v", last)
		}
		if err := write(o, rep); err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(o.out, "samples.md"))
		if err != nil || !strings.Contains(string(md), "Result: PASS") || strings.Count(string(md), "\n| ") != 8 {
			t.Fatalf("samples.md: %v\n%s", err, md)
		}
		var back result.SoakReport
		if b, err := os.ReadFile(filepath.Join(o.out, "samples.json")); err != nil || json.Unmarshal(b, &back) != nil || len(back.Samples) != 7 {
			t.Fatalf("samples.json does not read back: %v", err)
		}
	})

	t.Run("goroutine leak", func(t *testing.T) {
		s, ctl := startServer(t, nil), startCtl(t, false)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					go func() { <-stop }()
				}
			}
		}()
		rep := run(opts(s, ctl))
		// Under the race detector each goroutine costs enough memory that
		// RSS may fail too; nothing else may.
		found := false
		for _, f := range rep.Failures {
			switch {
			case strings.HasPrefix(f, "goroutines grows"):
				found = true
			case strings.HasPrefix(f, "RSS grows"):
			default:
				t.Errorf("unexpected failure %q", f)
			}
		}
		if rep.Pass || !found {
			t.Fatalf("pass %v, failures %q", rep.Pass, rep.Failures)
		}
	})

	t.Run("old control port", func(t *testing.T) {
		rep := run(opts(startServer(t, nil), startCtl(t, true)))
		if rep.Pass || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "is the server built with the current bench/internal/echoserver") {
			t.Fatalf("pass %v, failures %q", rep.Pass, rep.Failures)
		}
	})

	t.Run("too short", func(t *testing.T) {
		o := opts(startServer(t, nil), startCtl(t, false))
		o.dur = 3 * o.interval
		rep := run(o)
		if rep.Pass || len(rep.Failures) != 1 || !strings.Contains(rep.Failures[0], "too few to judge") {
			t.Fatalf("pass %v, failures %q", rep.Pass, rep.Failures)
		}
	})
}
