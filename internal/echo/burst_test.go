package echo_test

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// burst opens n connections to addr that each write size bytes at once
// and then stop reading, and returns once every write has been handed to
// the kernel (the server is then echoing the burst back into buffers that
// nobody drains) and a function that closes them.
func burst(t testing.TB, addr string, n, size int) func() {
	t.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	payload := bytes.Repeat([]byte{'b'}, size)
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Write(payload) // blocks until the server has read enough of it
		}()
	}
	return func() {
		for _, c := range conns {
			c.Close()
		}
		wg.Wait()
	}
}

// firstEcho dials addr and returns how long the dial took and how long
// the first 64-byte echo took, from the write of the request to the end of
// the reply. The dial is apart because the server's program has no part
// in it (the kernel completes the handshake; the server accepts later),
// while a client goroutine behind a thousand busy ones may take long to
// see it complete.
func firstEcho(t testing.TB, addr string) (dial, echo time.Duration) {
	t.Helper()
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dial = time.Since(start)
	msg := bytes.Repeat([]byte{'f'}, 64)
	start = time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("first echo: %v", err)
	}
	return dial, time.Since(start)
}

// BenchmarkFreshConnUnderBurst: 1,000 connections each write 1 MiB at once
// and stop reading; while the server echoes that burst, a fresh
// connection's first echo is timed (the goal: under 100 ms). The
// clients share this process with the server; loadgen's burst mode
// measures from a process of its own (see BENCHMARKS.md).
//
//	go test -run '^$' -bench FreshConnUnderBurst -benchtime 5x ./internal/echo
func BenchmarkFreshConnUnderBurst(b *testing.B) {
	var total, worst, dials time.Duration
	for range b.N {
		addr, _, stop := serve(b)
		closeBurst := burst(b, addr, 1000, 1<<20)
		time.Sleep(20 * time.Millisecond) // the burst is under way
		dial, d := firstEcho(b, addr)
		total += d
		dials += dial
		worst = max(worst, d)
		closeBurst()
		stop()
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/first-echo")
	b.ReportMetric(float64(worst.Microseconds())/1e3, "ms-worst")
	b.ReportMetric(float64(dials.Microseconds())/1e3/float64(b.N), "ms/dial")
}

// TestFreshConnServedDuringBurst: while 300 connections' 1 MiB bursts are
// echoed into buffers nobody drains, a fresh connection is accepted and
// echoed: the accept task and the new connection's task get their turns
// between the burst connections' polls, which the budget (counting bytes
// as well as calls) keeps short. The bound here only guards against
// starvation, with room for a loaded machine; the figure the issue sets
// (under 100 ms at 1,000 connections) is BenchmarkFreshConnUnderBurst's.
func TestFreshConnServedDuringBurst(t *testing.T) {
	addr, ex, stop := serve(t)
	defer stop()
	closeBurst := burst(t, addr, 300, 1<<20)
	defer closeBurst()
	_, d := firstEcho(t, addr)
	t.Logf("first echo of a fresh connection during the burst: %v; tasks: %d", d, len(ex.Tasks()))
	if d > 5*time.Second {
		t.Fatalf("a fresh connection waited %v for its first echo behind the burst", d)
	}
}
