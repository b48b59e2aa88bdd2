// Command loadgen is the benchmark load generator: a separate process that
// drives an echo server over loopback and measures it.
//
// Mode echo (the default) is a closed-loop ping-pong: each of -conns
// connections keeps exactly one -size byte request in flight, waits for the
// whole echo, compares every byte with what it sent, and sends the next.
// After -warmup it measures for -duration and reports requests/s, latency
// quantiles (p50, p99, p99.9, from a log-linear histogram with under 1%
// error), Jain's fairness index over the connections' request counts, and,
// given the server's -pid, the server's CPU time per request and both
// processes' CPU use.
//
// Mode idle measures memory per idle connection: it reads the server's
// resident memory, opens -conns connections and verifies one echo on each,
// waits -settle, reads the resident memory again and reports the growth
// per connection. Given the server's control address (-ctl) it also
// reports the same after a forced GC on both sides of the measurement.
//
// Connections come from source addresses 127.0.0.1 .. 127.0.0.<-sources>,
// bound before connect. The -engine flag picks how the client does its
// I/O: "epoll" (one goroutine, one epoll instance, raw non-blocking system
// calls; the default, because it saturates later: see bench/README.md) or
// "goroutine" (one goroutine per connection on net.Conn).
//
// With -json the result is one JSON object on stdout; otherwise a short
// human-readable summary. A failed run (a verification mismatch, a closed
// connection, a stall) reports the error and exits with status 1.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/hist"
	"github.com/smolgo/smol/bench/internal/procfs"
	"github.com/smolgo/smol/bench/internal/result"
	"github.com/smolgo/smol/bench/internal/stats"
)

type options struct {
	addr, mode, engine, ctl string
	conns, size, sources    int
	workers                 int
	warmup, dur, settle     time.Duration
	hold, stall, timeout    time.Duration
	pid                     int
	burst, bursts           int
	burstDelay              time.Duration
	jsonOut, verbose        bool
}

func main() {
	var o options
	var res result.Result
	flag.StringVar(&o.addr, "addr", "127.0.0.1:17001", "server address (IPv4)")
	flag.StringVar(&o.mode, "mode", "echo", "echo (ping-pong throughput and latency), idle (memory per idle connection) or burst (a fresh connection's first echo while every connection floods the server)")
	flag.StringVar(&o.engine, "engine", "epoll", "client I/O engine for echo mode: epoll or goroutine")
	flag.IntVar(&o.conns, "conns", 1000, "number of connections")
	flag.IntVar(&o.size, "size", 64, "message size in bytes")
	flag.IntVar(&o.sources, "sources", 16, "spread connections over source addresses 127.0.0.1..127.0.0.N")
	flag.IntVar(&o.workers, "dial-workers", 16, "connections being opened at once")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "echo: warm-up before measuring")
	flag.DurationVar(&o.dur, "duration", 10*time.Second, "echo: measured interval")
	flag.DurationVar(&o.settle, "settle", 2*time.Second, "idle: wait after connecting before reading memory")
	flag.DurationVar(&o.hold, "hold", 0, "idle: keep the connections open this long after measuring")
	flag.DurationVar(&o.stall, "stall", 10*time.Second, "fail when no echo completes for this long")
	flag.DurationVar(&o.timeout, "dial-timeout", 10*time.Second, "timeout to open and verify one connection")
	flag.IntVar(&o.burst, "burst", 1<<20, "burst: bytes each connection writes at once")
	flag.IntVar(&o.bursts, "bursts", 5, "burst: rounds, each with new connections")
	flag.DurationVar(&o.burstDelay, "burst-delay", 20*time.Millisecond, "burst: wait after the burst starts before the fresh connection dials")
	flag.IntVar(&o.pid, "pid", 0, "server PID, for its CPU time and resident memory (0: not measured)")
	flag.StringVar(&o.ctl, "ctl", "", "idle: server control address, for memory after a forced GC")
	flag.BoolVar(&o.jsonOut, "json", false, "print the result as one JSON object")
	flag.BoolVar(&o.verbose, "v", false, "progress on stderr")
	flag.StringVar(&res.Server, "label-server", "", "label copied into the result")
	flag.StringVar(&res.Scenario, "label-scenario", "", "label copied into the result")
	flag.IntVar(&res.Round, "label-round", 0, "label copied into the result")
	flag.Parse()

	res.Mode, res.Addr, res.Conns, res.Size, res.Sources = o.mode, o.addr, o.conns, o.size, o.sources
	err := run(&o, &res)
	if err != nil {
		res.Error = err.Error()
	}
	report(&o, &res)
	if err != nil {
		os.Exit(1)
	}
}

func run(o *options, res *result.Result) error {
	if o.conns < 1 || o.size < 1 || o.sources < 1 || o.sources > 254 || o.workers < 1 {
		return fmt.Errorf("bad flags: need conns >= 1, size >= 1, 1 <= sources <= 254, dial-workers >= 1")
	}
	ap, err := netip.ParseAddrPort(o.addr)
	if err != nil || !ap.Addr().Is4() {
		return fmt.Errorf("-addr %q: need an IPv4 address and port", o.addr)
	}
	dst := &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}

	// The open-file limit: Go already raises the soft limit to the hard one
	// at start-up; say clearly when the connections cannot fit.
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
		res.FDLimit = rl.Cur
		if uint64(o.conns)+64 > rl.Cur {
			return fmt.Errorf("%d connections do not fit the open-file limit of %d (hard limit %d) "+
				"with 64 descriptors to spare: at most %d", o.conns, rl.Cur, rl.Max, int64(rl.Cur)-64)
		}
	}

	p := newPayload(o.size)
	switch o.mode {
	case "echo":
		return runEcho(o, res, dst, p)
	case "idle":
		return runIdle(o, res, dst, p)
	case "burst":
		return runBurst(o, res, p)
	case "probe":
		return runProbe(o, p)
	}
	return fmt.Errorf("-mode %q: want echo, idle or burst", o.mode)
}

// runEcho opens and verifies the connections, then runs the chosen engine.
func runEcho(o *options, res *result.Result, dst *unix.SockaddrInet4, p *payload) error {
	res.Engine = o.engine
	res.WarmupS = o.warmup.Seconds()
	w := &window{pid: o.pid}
	h := new(hist.Hist)
	var counts []int64
	start := time.Now()
	switch o.engine {
	case "epoll":
		fds := make([]int, o.conns)
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
		err := dialAll(o.conns, o.workers, o.verbose, func(i int) (err error) {
			fds[i], err = dialRaw(srcAddr(i, o.sources), dst, p.msg(i, 0), o.timeout)
			return err
		})
		if err != nil {
			return err
		}
		res.ConnectS = time.Since(start).Seconds()
		if counts, err = runEpoll(fds, p, o.warmup, o.dur, o.stall, w, h); err != nil {
			return err
		}
	case "goroutine":
		conns := make([]net.Conn, o.conns)
		err := dialAll(o.conns, o.workers, o.verbose, func(i int) (err error) {
			conns[i], err = dialNet(srcAddr(i, o.sources), o.addr, p.msg(i, 0), o.timeout)
			return err
		})
		if err != nil {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
			return err
		}
		res.ConnectS = time.Since(start).Seconds()
		if counts, err = runGoroutines(conns, p, o.warmup, o.dur, o.stall, w, h); err != nil {
			return err
		}
	default:
		return fmt.Errorf("-engine %q: want epoll or goroutine", o.engine)
	}

	// Summarise the window.
	secs := w.seconds()
	res.WindowS = secs
	res.Requests = int64(h.Count())
	res.RPS = float64(res.Requests) / secs
	res.P50us = h.Quantile(0.50) / 1e3
	res.P99us = h.Quantile(0.99) / 1e3
	res.P999us = h.Quantile(0.999) / 1e3
	res.MeanUs = h.Mean() / 1e3
	res.MaxUs = float64(h.Max()) / 1e3
	res.Jain = stats.Jain(counts)
	res.MinConnReqs, res.MaxConnReqs = minMax(counts)
	res.ClientCPUUtil = (w.own1 - w.own0).Seconds() / secs
	if res.Requests > 0 {
		res.ClientNsReq = float64(w.own1-w.own0) / float64(res.Requests)
	}
	if o.pid != 0 {
		if w.err != nil {
			return fmt.Errorf("reading server pid %d: %w", o.pid, w.err)
		}
		cpu := (w.srv1 - w.srv0).Seconds()
		res.ServerCPUs = cpu
		res.ServerCPUUtil = cpu / secs
		if res.Requests > 0 {
			res.ServerNsReq = cpu * 1e9 / float64(res.Requests)
		}
		res.RSSLoaded = w.rss1
	}
	if res.Requests == 0 {
		return fmt.Errorf("no request completed in the %.1fs window", secs)
	}
	return nil
}

// runIdle measures the server's resident memory growth per idle connection.
func runIdle(o *options, res *result.Result, dst *unix.SockaddrInet4, p *payload) error {
	if o.pid == 0 {
		return fmt.Errorf("idle mode needs the server's -pid")
	}
	var ctl *ctlConn
	if o.ctl != "" {
		var err error
		if ctl, err = dialCtl(o.ctl); err != nil {
			return err
		}
		defer ctl.Close()
	}

	// Baseline: the server as it is before any connection, and (with a
	// control port) the same after a forced GC.
	var err error
	if res.RSSBase, err = procfs.RSS(o.pid); err != nil {
		return err
	}
	if ctl != nil {
		if res.RSSGCBase, err = ctl.gcRSS(); err != nil {
			return err
		}
	}

	// Open every connection, each verified with one echo.
	fds := make([]int, o.conns)
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
	start := time.Now()
	err = dialAll(o.conns, o.workers, o.verbose, func(i int) (err error) {
		fds[i], err = dialRaw(srcAddr(i, o.sources), dst, p.msg(i, 0), o.timeout)
		return err
	})
	if err != nil {
		return err
	}
	res.ConnectS = time.Since(start).Seconds()

	// Let the server finish whatever the connection storm started, then
	// read its memory again.
	time.Sleep(o.settle)
	if res.RSSLoaded, err = procfs.RSS(o.pid); err != nil {
		return err
	}
	res.BytesConn = float64(res.RSSLoaded-res.RSSBase) / float64(o.conns)
	if ctl != nil {
		if res.RSSGCLoad, err = ctl.gcRSS(); err != nil {
			return err
		}
		res.BytesConnG = float64(res.RSSGCLoad-res.RSSGCBase) / float64(o.conns)
	}
	if o.hold > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: holding %d connections for %v\n", o.conns, o.hold)
		time.Sleep(o.hold)
	}
	return nil
}

// ctlConn speaks the echo servers' control protocol (see
// internal/echoserver).
type ctlConn struct {
	net.Conn
	r *bufio.Reader
}

func dialCtl(addr string) (*ctlConn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("control port: %w", err)
	}
	return &ctlConn{c, bufio.NewReader(c)}, nil
}

// gcRSS asks the server to collect garbage and return free memory to the
// OS, and returns its resident memory afterwards.
func (c *ctlConn) gcRSS() (int64, error) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte("gc\n")); err != nil {
		return 0, fmt.Errorf("control port: %w", err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("control port: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "rss" {
		return 0, fmt.Errorf("control port: unexpected answer %q", line)
	}
	return strconv.ParseInt(f[1], 10, 64)
}

func minMax(xs []int64) (lo, hi int64) {
	for i, x := range xs {
		if i == 0 || x < lo {
			lo = x
		}
		if x > hi {
			hi = x
		}
	}
	return lo, hi
}

func report(o *options, r *result.Result) {
	if o.jsonOut {
		b, _ := json.Marshal(r)
		fmt.Println(string(b))
		return
	}
	if r.Error != "" {
		fmt.Printf("error: %s\n", r.Error)
		return
	}
	switch r.Mode {
	case "echo":
		fmt.Printf("echo %s: %d conns x %d B, engine %s, GOMAXPROCS %d, %.1fs window after %.1fs warm-up (connect %.2fs)\n",
			r.Addr, r.Conns, r.Size, r.Engine, runtime.GOMAXPROCS(0), r.WindowS, r.WarmupS, r.ConnectS)
		fmt.Printf("  %.0f req/s  p50 %.1f us  p99 %.1f us  p99.9 %.1f us  mean %.1f us  max %.1f us\n",
			r.RPS, r.P50us, r.P99us, r.P999us, r.MeanUs, r.MaxUs)
		fmt.Printf("  fairness (Jain) %.4f  per-conn requests %d..%d  client CPU %.0f%%, %.0f ns/request\n",
			r.Jain, r.MinConnReqs, r.MaxConnReqs, 100*r.ClientCPUUtil, r.ClientNsReq)
		if o.pid != 0 {
			fmt.Printf("  server CPU %.0f%%, %.0f ns/request, RSS %.1f MiB\n",
				100*r.ServerCPUUtil, r.ServerNsReq, float64(r.RSSLoaded)/(1<<20))
		}
	case "idle":
		fmt.Printf("idle %s: %d conns (connect %.2fs)\n", r.Addr, r.Conns, r.ConnectS)
		fmt.Printf("  server RSS %.1f -> %.1f MiB: %.0f B/conn\n",
			float64(r.RSSBase)/(1<<20), float64(r.RSSLoaded)/(1<<20), r.BytesConn)
		if r.RSSGCBase != 0 {
			fmt.Printf("  after forced GC %.1f -> %.1f MiB: %.0f B/conn\n",
				float64(r.RSSGCBase)/(1<<20), float64(r.RSSGCLoad)/(1<<20), r.BytesConnG)
		}
	case "burst":
		fmt.Printf("burst %s: %d conns x %d B at once, then a fresh connection's first %d B echo\n",
			r.Addr, r.Conns, r.Burst, r.Size)
		fmt.Printf("  first echo (write to reply): median %.1f ms, worst %.1f ms, rounds %v\n", r.FirstEchoMedMs, r.FirstEchoMaxMs, r.FirstEchoMs)
		fmt.Printf("  dial: median %.1f ms, rounds %v\n", r.FirstDialMedMs, r.FirstDialMs)
		if r.BusyAfterMs != nil {
			fmt.Printf("  server CPU in the 100 ms after the echo: %v ms\n", r.BusyAfterMs)
		}
	}
}
