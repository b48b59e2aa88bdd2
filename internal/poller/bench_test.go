//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package poller

// Edge-triggered versus one-shot, measured.
//
// BenchmarkPingPong runs conns connections, each a client end and a server
// end registered in one poller, driven by one goroutine: every client sends
// 1 byte, the server echoes it, and the client sends again as soon as the
// echo arrives. One benchmark op is one round trip; ns/op is CPU time per
// round trip (both ends, so two messages, are on the same thread), and
// cpu-ns/op the process's CPU time per round trip, which is steadier than
// wall time on a shared machine. The harness counts its system calls and
// reports them per round trip.
//
// Three ways to drive the poller:
//
//   - et:        Add once (read+write, edge-triggered). On Readable, read
//     until a short read (a stream socket that returns fewer bytes than
//     asked for is drained; tokio relies on the same fact).
//   - et-eagain: the same, but read until EAGAIN, as Go's net package
//     effectively does (its next Read sees EAGAIN before it parks).
//   - oneshot:   AddOneShot for read; on Readable, read once, then Modify
//     to re-arm (level-triggered while armed, so leftover data is reported
//     again and no EAGAIN read is needed). This is the cheapest correct
//     one-shot pattern; smol's async-io does one more read (optimistic read
//     that hits EAGAIN before it re-arms).
//
// Run: go test -run '^$' -bench PingPong -benchtime 200000x ./internal/poller/

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type pingMode int

const (
	modeET pingMode = iota
	modeETEagain
	modeOneShotRearm
)

func (m pingMode) String() string {
	return [...]string{"et", "et-eagain", "oneshot"}[m]
}

// sysCounts counts the harness's system calls.
type sysCounts struct{ wait, read, write, ctl int }

func (c sysCounts) total() int { return c.wait + c.read + c.write + c.ctl }

// tcpPair returns a connected pair of non-blocking loopback TCP sockets
// with TCP_NODELAY, built from raw system calls.
func tcpPair(tb testing.TB) (int, int) {
	tb.Helper()
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(err)
	defer unix.Close(ln)
	must(unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	must(unix.Listen(ln, 1))
	sa, err := unix.Getsockname(ln)
	must(err)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	must(err)
	must(unix.Connect(c, sa))
	s, _, err := unix.Accept(ln)
	must(err)
	for _, fd := range []int{c, s} {
		must(unix.SetNonblock(fd, true))
		must(unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
	}
	tb.Cleanup(func() {
		unix.Close(c)
		unix.Close(s)
	})
	return c, s
}

// pingPong runs b.N round trips over conns connections.
func pingPong(b *testing.B, tcp bool, conns int, m pingMode) {
	p := newTestPoller(b)
	// fds[2*i] is connection i's client end, fds[2*i+1] its server end; the
	// key of an end is its index.
	fds := make([]int, 2*conns)
	for i := 0; i < conns; i++ {
		var c, s int
		if tcp {
			c, s = tcpPair(b)
		} else {
			c, s = socketPair(b)
		}
		fds[2*i], fds[2*i+1] = c, s
	}
	var cnt sysCounts
	for k, fd := range fds {
		var err error
		if m == modeOneShotRearm {
			err = p.AddOneShot(fd, uint64(k), true, false)
		} else {
			err = p.Add(fd, uint64(k))
		}
		if err != nil {
			b.Fatal(err)
		}
		cnt.ctl++
	}
	msg := []byte{'x'}
	var buf [64]byte
	events := make([]Event, 256)

	// readAll reads what the event made available, per mode, and returns
	// the byte count.
	readAll := func(fd int) int {
		total := 0
		for {
			n, err := unix.Read(fd, buf[:])
			cnt.read++
			if err == unix.EAGAIN {
				return total
			}
			if err != nil {
				b.Fatal(err)
			}
			total += n
			if n == 0 || m == modeOneShotRearm || (m == modeET && n < len(buf)) {
				return total
			}
		}
	}
	send := func(fd int) {
		if _, err := unix.Write(fd, msg); err != nil {
			b.Fatal(err)
		}
		cnt.write++
	}

	// Start every connection with one request.
	sent := 0
	for i := 0; i < conns && sent < b.N; i++ {
		send(fds[2*i])
		sent++
	}
	cnt = sysCounts{}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()

	// The loop: wait, then serve every readable end.
	done := 0
	for done < b.N {
		n, err := p.Wait(events, -1)
		cnt.wait++
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range events[:n] {
			if !e.Readable {
				continue
			}
			k := int(e.Key)
			fd := fds[k]
			got := readAll(fd)
			if m == modeOneShotRearm {
				if err := p.Modify(fd, e.Key, true, false); err != nil {
					b.Fatal(err)
				}
				cnt.ctl++
			}
			for ; got > 0; got-- {
				if k%2 == 1 {
					send(fd) // server: echo
					continue
				}
				done++ // client: a round trip completed
				if sent < b.N {
					send(fd)
					sent++
				}
			}
		}
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	per := func(x int) float64 { return float64(x) / float64(b.N) }
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(per(cnt.total()), "syscalls/op")
	b.ReportMetric(per(cnt.wait), "waits/op")
	b.ReportMetric(per(cnt.ctl), "ctls/op")
	b.ReportMetric(per(cnt.read), "reads/op")
}

// cpuTime is the process's user plus system CPU time. On this shared
// 2-core machine other processes steal wall-clock time from a benchmark;
// CPU time per op does not count what was stolen.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkPingPong(b *testing.B) {
	for _, tcp := range []bool{true, false} {
		net := "unix"
		if tcp {
			net = "tcp"
		}
		for _, conns := range []int{1, 64} {
			for _, m := range []pingMode{modeET, modeETEagain, modeOneShotRearm} {
				b.Run(fmt.Sprintf("%s/conns=%d/%v", net, conns, m), func(b *testing.B) {
					pingPong(b, tcp, conns, m)
				})
			}
		}
	}
}

// BenchmarkNotifyWait is the cost of one wake-up: Notify, then the Wait that
// consumes it (a write and a read of the wake-up fd, and one wait).
func BenchmarkNotifyWait(b *testing.B) {
	p := newTestPoller(b)
	events := make([]Event, 16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Notify()
		p.Wait(events, -1)
	}
}

// BenchmarkNotifyPending is the cost of a Notify while a wake-up is already
// pending: the deduplicated case, no system call.
func BenchmarkNotifyPending(b *testing.B) {
	p := newTestPoller(b)
	p.Notify()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Notify()
		}
	})
}

// BenchmarkWaitNonBlocking is one Wait with timeout 0 and nothing ready.
func BenchmarkWaitNonBlocking(b *testing.B) {
	p := newTestPoller(b)
	events := make([]Event, 16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p.Wait(events, 0)
	}
}
