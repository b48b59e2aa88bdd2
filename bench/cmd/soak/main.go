// Command soak drives an echo server for a long time with every byte
// verified and checks that the server does not leak: it fails if any
// echo is wrong or stalls, or if the server's resident memory, open
// descriptors or goroutines trend upward. bench/soak.sh builds it, starts a
// server and runs it; see bench/README.md.
//
// Load: -conns connections (default 1,000), each keeping one request in
// flight: a message of pseudo-random size (-min-size to -max-size, 1 B to
// 64 KiB by default, log-uniform so that every power of two is as likely)
// and pseudo-random content, both a function of (-seed, connection,
// request number). It reads back exactly that many bytes, compares each
// byte as it arrives, and sends the next. A mismatch, a short echo (the
// server closed), a reset, or a connection on which no byte moved for
// -stall ends the run with a message naming the connection, its source
// address, the request and the byte offset, in the message and in the
// connection's stream.
//
// Samples: at the start and every -interval (default 10 s) until
// -duration (default 10 min), the server's resident memory (VmRSS) and
// descriptor count from /proc/PID, its CPU time, and its goroutine count
// and Go heap from the "stats" command of its control port (-ctl, served
// by bench/internal/echoserver), with the requests completed and bytes
// verified so far. Each sample is printed as a row of a Markdown table.
//
// Verdict: the rule of bench/internal/trend, applied to the three series.
// With -out DIR it writes DIR/samples.json (settings, samples, verdicts)
// and DIR/samples.md (the table and verdicts); cmd/soakplot draws the JSON.
// The last line is "soak: PASS" or "soak: FAIL", and the exit status is 0
// or 1 (2 for bad flags).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
	_ "unsafe" // for go:linkname

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/echoserver"
	"github.com/smolgo/smol/bench/internal/procfs"
	"github.com/smolgo/smol/bench/internal/result"
	"github.com/smolgo/smol/bench/internal/trend"
)

// nanotime is the runtime's monotonic clock (see cmd/loadgen).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

type options struct {
	addr, ctl, out, label, dist string
	pid                         int
	conns, minSize, maxSize     int
	sources, workers            int
	seed                        uint64
	dur, interval, stall, dialT time.Duration
	meta                        metaFlag
}

// metaFlag collects repeated -meta key=value flags.
type metaFlag [][2]string

func (m *metaFlag) String() string { return fmt.Sprint(*m) }
func (m *metaFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	*m = append(*m, [2]string{k, v})
	return nil
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:17001", "echo server address (IPv4)")
	flag.StringVar(&o.ctl, "ctl", "", "the server's control address, for its goroutine count (required)")
	flag.IntVar(&o.pid, "pid", 0, "the server's PID, for its memory, descriptors and CPU time (required)")
	flag.IntVar(&o.conns, "conns", 1000, "connections")
	flag.DurationVar(&o.dur, "duration", 10*time.Minute, "how long to run")
	flag.DurationVar(&o.interval, "interval", 10*time.Second, "time between samples")
	flag.IntVar(&o.minSize, "min-size", 1, "smallest message, bytes")
	flag.IntVar(&o.maxSize, "max-size", 64<<10, "largest message, bytes")
	flag.StringVar(&o.dist, "dist", "log", "message sizes: log (log-uniform) or uniform")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the message sizes and contents")
	flag.DurationVar(&o.stall, "stall", 10*time.Second, "fail when no byte moves on a connection for this long")
	flag.IntVar(&o.sources, "sources", 16, "spread connections over source addresses 127.0.0.1..127.0.0.N")
	flag.IntVar(&o.workers, "dial-workers", 16, "connects in flight while opening the connections")
	flag.DurationVar(&o.dialT, "dial-timeout", 10*time.Second, "timeout of one connect")
	flag.StringVar(&o.out, "out", "", "directory for samples.json and samples.md (none if empty)")
	flag.StringVar(&o.label, "label-server", "", "server name, copied into the report")
	flag.Var(&o.meta, "meta", "key=value copied into the report's settings (repeatable)")
	flag.Parse()
	if err := o.check(); err != nil {
		fmt.Fprintf(os.Stderr, "soak: %v\n", err)
		flag.Usage()
		os.Exit(2)
	}

	rep := run(&o)
	if o.out != "" {
		if err := write(&o, rep); err != nil {
			rep.Failures = append(rep.Failures, "writing the report: "+err.Error())
			rep.Pass = false
		}
	}
	for _, f := range rep.Failures {
		fmt.Printf("FAIL: %s\n", f)
	}
	if !rep.Pass {
		fmt.Println("soak: FAIL")
		os.Exit(1)
	}
	fmt.Println("soak: PASS")
}

func (o *options) check() error {
	switch {
	case o.pid <= 0:
		return errors.New("-pid: the server's PID is required")
	case o.ctl == "":
		return errors.New("-ctl: the server's control address is required (for its goroutine count)")
	case o.conns < 1:
		return errors.New("-conns must be at least 1")
	case o.minSize < 1 || o.maxSize < o.minSize || o.maxSize > 16<<20:
		return fmt.Errorf("-min-size %d, -max-size %d: need 1 <= min <= max <= 16 MiB", o.minSize, o.maxSize)
	case o.dist != "log" && o.dist != "uniform":
		return fmt.Errorf("-dist %q: want log or uniform", o.dist)
	case o.interval <= 0 || o.dur < o.interval:
		return fmt.Errorf("-interval %v, -duration %v: need 0 < interval <= duration", o.interval, o.dur)
	case o.stall <= 0:
		return errors.New("-stall must be positive")
	case o.sources < 1 || o.sources > 254 || o.workers < 1:
		return errors.New("need 1 <= -sources <= 254 and -dial-workers >= 1")
	}
	return nil
}

// run does the soak and returns its report; it never exits.
func run(o *options) *result.SoakReport {
	rep := &result.SoakReport{Meta: map[string]string{}}
	fail := func(err error) *result.SoakReport {
		rep.Failures = append(rep.Failures, err.Error())
		return rep
	}
	m := rep.Meta
	m["server"], m["addr"], m["pid"] = o.label, o.addr, fmt.Sprint(o.pid)
	m["conns"], m["duration"], m["interval"] = fmt.Sprint(o.conns), o.dur.String(), o.interval.String()
	m["min_size"], m["max_size"], m["dist"] = fmt.Sprint(o.minSize), fmt.Sprint(o.maxSize), o.dist
	m["seed"], m["stall"] = fmt.Sprint(o.seed), o.stall.String()
	m["command"] = strings.Join(os.Args, " ")
	m["client_go"] = runtime.Version()
	m["started"] = time.Now().UTC().Format(time.RFC3339)
	m["load_at_start"] = loadAvg()
	for _, kv := range o.meta {
		m[kv[0]] = kv[1]
	}

	ap, err := netip.ParseAddrPort(o.addr)
	if err != nil || !ap.Addr().Is4() {
		return fail(fmt.Errorf("-addr %q: need an IPv4 address and port", o.addr))
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil && uint64(o.conns)+64 > rl.Cur {
		return fail(fmt.Errorf("%d connections do not fit the open-file limit of %d (hard limit %d) with 64 descriptors to spare",
			o.conns, rl.Cur, rl.Max))
	}

	// The control port first: without it there is no goroutine count, and
	// an old server binary would only be noticed at the first sample.
	ctl, err := dialCtl(o.ctl)
	if err != nil {
		return fail(err)
	}
	defer ctl.Close()
	if _, err := ctl.stats(); err != nil {
		return fail(err)
	}

	t0 := time.Now()
	fds, err := dialAll(o.conns, o.workers, o.sources,
		&unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}, o.dialT)
	if err != nil {
		return fail(fmt.Errorf("opening %d connections: %w", o.conns, err))
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	m["connect_s"] = fmt.Sprintf("%.2f", time.Since(t0).Seconds())
	e, err := newEngine(fds, o.seed, sizer{min: o.minSize, max: o.maxSize, log: o.dist == "log"}, o.stall)
	if err != nil {
		return fail(err)
	}
	defer e.close()

	// The load runs on its own goroutine; this one takes the samples on
	// the clock and stops the load after the last.
	fmt.Printf("soak: %s (%s, pid %d): %d connections, %d..%d B (%s), %v, a sample every %v, seed %d\n\n",
		o.addr, o.label, o.pid, o.conns, o.minSize, o.maxSize, o.dist, o.dur, o.interval, o.seed)
	fmt.Println(tableHeader)
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- e.run() }()
	running := true
	var runErr error
	for k := 0; ; k++ {
		at := time.Duration(k) * o.interval
		final := at >= o.dur
		if final {
			at = o.dur
		}
		timer := time.NewTimer(time.Until(start.Add(at)))
		select {
		case err := <-errc:
			timer.Stop()
			running = false
			runErr = err
			if runErr == nil {
				runErr = errors.New("the load stopped by itself")
			}
		case <-timer.C:
		}
		if runErr != nil {
			break
		}
		s, err := takeSample(o.pid, ctl, e, time.Since(start))
		if err != nil {
			runErr = fmt.Errorf("sample at %v: %w", at, err)
			break
		}
		var prev *result.SoakSample
		if n := len(rep.Samples); n > 0 {
			prev = &rep.Samples[n-1]
		}
		fmt.Println(row(s, prev))
		rep.Samples = append(rep.Samples, s)
		if final {
			break
		}
	}
	e.stop.Store(true)
	if running {
		if err := <-errc; err != nil && runErr == nil {
			runErr = err
		}
	}
	m["load_at_end"] = loadAvg()
	fmt.Println()
	if runErr != nil {
		rep.Failures = append(rep.Failures, runErr.Error())
	}

	// The verdicts.
	ss := rep.Samples
	if len(ss) < trend.MinSamples {
		// A run that failed early has said why already.
		if runErr == nil {
			rep.Failures = append(rep.Failures, fmt.Sprintf("%d samples are too few to judge a trend: run for at least %d intervals",
				len(ss), trend.MinSamples-1))
		}
		return rep
	}
	ts := make([]float64, len(ss))
	series := map[string][]float64{}
	for i, s := range ss {
		ts[i] = s.T
		series["RSS"] = append(series["RSS"], float64(s.RSS))
		series["fds"] = append(series["fds"], float64(s.FDs))
		series["goroutines"] = append(series["goroutines"], float64(s.Goroutines))
	}
	for _, c := range []struct {
		name string
		rule trend.Rule
	}{
		{"RSS", trend.SoakRSS()},
		{"fds", trend.SoakFDs(o.conns)},
		{"goroutines", trend.SoakGoroutines()},
	} {
		v, err := trend.Check(ts, series[c.name], c.rule)
		if err != nil {
			rep.Failures = append(rep.Failures, c.name+": "+err.Error())
			continue
		}
		rep.Verdicts = append(rep.Verdicts, result.SoakVerdict{Series: c.name, Verdict: v})
		fmt.Printf("%-11s %s\n", c.name+":", v.Reason)
		if v.Fail {
			rep.Failures = append(rep.Failures, c.name+" "+v.Reason)
		}
	}
	last := ss[len(ss)-1]
	fmt.Printf("\n%d requests, %.2f GiB verified in %.0f s\n", last.Requests, float64(last.Bytes)/(1<<30), last.T)
	rep.Pass = len(rep.Failures) == 0
	return rep
}

// takeSample reads the server's figures and the load's counters.
func takeSample(pid int, ctl *ctlConn, e *engine, since time.Duration) (result.SoakSample, error) {
	s := result.SoakSample{T: since.Seconds(), Requests: e.requests.Load(), Bytes: e.bytes.Load()}
	var err error
	gone := func(err error) error {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("the server (pid %d) is gone: it exited or crashed (%v)", pid, err)
		}
		return err
	}
	if s.RSS, err = procfs.RSS(pid); err != nil {
		return s, gone(err)
	}
	if s.FDs, err = procfs.FDCount(pid); err != nil {
		return s, gone(err)
	}
	cpu, err := procfs.CPUTime(pid)
	if err != nil {
		return s, gone(err)
	}
	s.ServerCPU = cpu.Seconds()
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err == nil {
		s.ClientCPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	st, err := ctl.stats()
	if err != nil {
		return s, err
	}
	s.Goroutines, s.HeapInuse, s.HeapObjects, s.NumGC = st.Goroutines, st.HeapInuse, st.HeapObjects, st.NumGC
	return s, nil
}

const tableHeader = "| t (s) | RSS MiB | heap MiB | fds | goroutines | requests | verified MiB | req/s | MiB/s | server CPU | client CPU |\n" +
	"|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"

// row formats a sample as a table row; the rates and CPU shares (of one
// core) are over the interval since prev (none for the first sample).
func row(s result.SoakSample, prev *result.SoakSample) string {
	rps, mbs, scpu, ccpu := "", "", "", ""
	if prev != nil && s.T > prev.T {
		dt := s.T - prev.T
		rps = fmt.Sprintf("%.0f", float64(s.Requests-prev.Requests)/dt)
		mbs = fmt.Sprintf("%.1f", float64(s.Bytes-prev.Bytes)/dt/(1<<20))
		scpu = fmt.Sprintf("%.0f%%", 100*(s.ServerCPU-prev.ServerCPU)/dt)
		ccpu = fmt.Sprintf("%.0f%%", 100*(s.ClientCPU-prev.ClientCPU)/dt)
	}
	return fmt.Sprintf("| %.0f | %.1f | %.1f | %d | %d | %d | %.0f | %s | %s | %s | %s |",
		s.T, float64(s.RSS)/(1<<20), float64(s.HeapInuse)/(1<<20), s.FDs, s.Goroutines,
		s.Requests, float64(s.Bytes)/(1<<20), rps, mbs, scpu, ccpu)
}

// write puts samples.json and samples.md in o.out.
func write(o *options, rep *result.SoakReport) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(o.out, "samples.json"), js.Bytes(), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	m := rep.Meta
	fmt.Fprintf(&md, "Soak of %s: %s connections, messages of %s..%s B (%s), %s, a sample every %s, seed %s; started %s, load average %s at the start and %s at the end.\n\n",
		m["server"], m["conns"], m["min_size"], m["max_size"], m["dist"], m["duration"], m["interval"], m["seed"],
		m["started"], m["load_at_start"], m["load_at_end"])
	md.WriteString(tableHeader + "\n")
	for i, s := range rep.Samples {
		var prev *result.SoakSample
		if i > 0 {
			prev = &rep.Samples[i-1]
		}
		md.WriteString(row(s, prev) + "\n")
	}
	md.WriteString("\n")
	for _, v := range rep.Verdicts {
		fmt.Fprintf(&md, "- %s: %s\n", v.Series, v.Reason)
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(&md, "- FAIL: %s\n", f)
	}
	if rep.Pass {
		md.WriteString("\nResult: PASS\n")
	} else {
		md.WriteString("\nResult: FAIL\n")
	}
	return os.WriteFile(filepath.Join(o.out, "samples.md"), []byte(md.String()), 0o644)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ctlConn speaks the echo servers' control protocol (internal/echoserver).
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

// stats asks the server for its echoserver.Stats.
func (c *ctlConn) stats() (echoserver.Stats, error) {
	var st echoserver.Stats
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "stats\n"); err != nil {
		return st, fmt.Errorf("control port: %w", err)
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return st, fmt.Errorf("control port: %w", err)
	}
	js, ok := strings.CutPrefix(strings.TrimSpace(line), "stats ")
	if !ok {
		return st, fmt.Errorf("control port: %q answered %q to \"stats\": is the server built with the current bench/internal/echoserver?",
			c.RemoteAddr(), strings.TrimSpace(line))
	}
	if err := json.Unmarshal([]byte(js), &st); err != nil {
		return st, fmt.Errorf("control port: bad stats %q: %w", js, err)
	}
	return st, nil
}
