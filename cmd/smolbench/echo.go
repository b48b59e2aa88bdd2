package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/bits"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/internal/echo"
	"github.com/smolgo/smol/smolnet"
)

// --- servers (child processes) ---

// serve runs an echo server on 127.0.0.1, prints its address, and answers
// commands on stdin: "rss" (resident bytes after a GC), "cpu" (CPU time used
// so far, in ns). It exits when stdin closes.
func serve(useSmol bool) error {
	var addr string
	if useSmol {
		ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr = ln.Addr().String()
		ex := smol.NewLocalExecutor()
		go func() {
			accErr, err := smol.Run(ex, echo.NewServer(ln, ex))
			fmt.Fprintln(os.Stderr, "smol server stopped:", accErr, err)
			os.Exit(1)
		}()
	} else {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		addr = ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					continue
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 4096)
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
	// SMOLBENCH_CPUPROFILE=file profiles the server into file.PID, for looking
	// into a figure.
	if path := os.Getenv("SMOLBENCH_CPUPROFILE"); path != "" {
		f, err := os.Create(fmt.Sprintf("%s.%d", path, os.Getpid()))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Println(addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "rss":
			runtime.GC()
			debug.FreeOSMemory()
			v, err := rss()
			if err != nil {
				return err
			}
			fmt.Println(v)
		case "cpu":
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
				return err
			}
			fmt.Println(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return nil
}

// --- load generator and idle holder (child processes) ---

type echoResult struct {
	Requests int64   `json:"requests"`
	Seconds  float64 `json:"seconds"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	Errors   int64   `json:"errors"`
}

// client runs conns ping-pong connections against addr for warm+dur,
// printing "start" and "stop" around the measured part, then the result.
func client(addr string, conns, size int, warm, dur time.Duration) (echoResult, error) {
	var (
		measuring atomic.Bool
		stopping  atomic.Bool
		wg        sync.WaitGroup
		mu        sync.Mutex
		total     hist
		res       echoResult
		errs      atomic.Int64
	)
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			for _, c := range cs[:i] {
				c.Close()
			}
			return res, err
		}
		cs[i] = c
	}
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			var h hist
			msg, back := make([]byte, size), make([]byte, size)
			for i := range msg {
				msg[i] = byte(i)
			}
			for !stopping.Load() {
				t0 := time.Now()
				if _, err := c.Write(msg); err != nil {
					errs.Add(1)
					return
				}
				if _, err := io.ReadFull(c, back); err != nil || back[size-1] != msg[size-1] {
					errs.Add(1)
					return
				}
				if measuring.Load() {
					h.add(time.Since(t0))
				}
			}
			mu.Lock()
			total.merge(&h)
			mu.Unlock()
		}()
	}
	time.Sleep(warm)
	fmt.Println("start")
	start := time.Now()
	measuring.Store(true)
	time.Sleep(dur)
	measuring.Store(false)
	res.Seconds = time.Since(start).Seconds()
	fmt.Println("stop")
	stopping.Store(true)
	wg.Wait()
	res.Requests = total.n
	res.P50us = total.quantile(0.50).Seconds() * 1e6
	res.P99us = total.quantile(0.99).Seconds() * 1e6
	res.Errors = errs.Load()
	return res, nil
}

// hold opens n connections, checks one echo on each, prints "ready", and
// keeps them open until stdin closes.
func hold(addr string, n int) error {
	cs := make([]net.Conn, 0, n)
	one := []byte{7}
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		if _, err := c.Write(one); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, one); err != nil {
			return err
		}
		cs = append(cs, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range cs {
		c.Close()
	}
	return nil
}

// hist is a log-linear latency histogram: 16 sub-buckets per power of two
// of nanoseconds, so quantiles are within about 6% of the true value.
type hist struct {
	b [64 * 16]int64
	n int64
}

func (h *hist) add(d time.Duration) {
	v := uint64(max(d, 1))
	e := bits.Len64(v) - 1
	sub := 0
	if e >= 4 {
		sub = int(v>>(e-4)) & 15
	}
	h.b[e*16+sub]++
	h.n++
}

func (h *hist) merge(o *hist) {
	for i, c := range o.b {
		h.b[i] += c
	}
	h.n += o.n
}

func (h *hist) quantile(q float64) time.Duration {
	want := int64(math.Ceil(q * float64(h.n)))
	var seen int64
	for i, c := range h.b {
		if seen += c; seen >= want && c > 0 {
			e, sub := i/16, i%16
			if e < 4 {
				return time.Duration(1 << e)
			}
			return time.Duration((16 + uint64(sub)) << (e - 4))
		}
	}
	return 0
}

// --- orchestration (parent) ---

// proc is a running child with line-oriented stdin and stdout.
type proc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func start(mode string, cpu int) (*proc, error) {
	args := []string{os.Args[0]}
	if cpu >= 0 {
		if ts, err := exec.LookPath("taskset"); err == nil {
			args = append([]string{ts, "-c", strconv.Itoa(cpu)}, args...)
		}
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &proc{cmd: cmd, in: in, out: bufio.NewScanner(out)}, nil
}

func (p *proc) line() (string, error) {
	if !p.out.Scan() {
		if err := p.out.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("child exited early")
	}
	return p.out.Text(), nil
}

func (p *proc) ask(cmd string) (int64, error) {
	if _, err := fmt.Fprintln(p.in, cmd); err != nil {
		return 0, err
	}
	s, err := p.line()
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

func (p *proc) stop() {
	p.in.Close()
	_ = p.cmd.Wait()
}

// cpus picks the server's and the load generator's CPU: different cores if
// there are two, no pinning otherwise.
func cpus() (server, load int) {
	if runtime.NumCPU() < 2 {
		return -1, -1
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return -1, -1
	}
	return 0, 1
}

func measureEcho(cfg config) ([]figure, error) {
	scpu, lcpu := cpus()
	if scpu < 0 {
		progress("  (taskset or a second CPU is missing: server and load generator are not pinned)")
	}
	warm := min(cfg.Duration/4, 500*time.Millisecond)
	type sample struct{ rps, p99, cpu float64 }
	run := func(kind string) (sample, error) {
		srv, err := start(kind, scpu)
		if err != nil {
			return sample{}, err
		}
		defer srv.stop()
		addr, err := srv.line()
		if err != nil {
			return sample{}, err
		}
		mode := fmt.Sprintf("client:%s:%d:%d:%d:%d", addr, cfg.Conns, cfg.Size, warm, cfg.Duration)
		cl, err := start(mode, lcpu)
		if err != nil {
			return sample{}, err
		}
		defer cl.stop()
		var cpu0, cpu1 int64
		for _, want := range []string{"start", "stop"} {
			if s, err := cl.line(); err != nil || s != want {
				return sample{}, fmt.Errorf("load generator said %q, %v; want %q", s, err, want)
			}
			c, err := srv.ask("cpu")
			if err != nil {
				return sample{}, err
			}
			if want == "start" {
				cpu0 = c
			} else {
				cpu1 = c
			}
		}
		s, err := cl.line()
		if err != nil {
			return sample{}, err
		}
		var r echoResult
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			return sample{}, err
		}
		if r.Errors > 0 || r.Requests == 0 {
			return sample{}, fmt.Errorf("load generator: %d errors, %d requests", r.Errors, r.Requests)
		}
		return sample{rps: float64(r.Requests) / r.Seconds, p99: r.P99us, cpu: float64(cpu1-cpu0) / float64(r.Requests)}, nil
	}
	results := map[string][]sample{}
	for i := range cfg.Rounds {
		order := []string{"server-smol", "server-net"}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, kind := range order {
			s, err := run(kind)
			if err != nil {
				return nil, fmt.Errorf("echo (%s): %w", kind, err)
			}
			progress("  round %d/%d  echo %-27s %-10s %s req/s, p99 %.0f µs, %.0f ns CPU/req", i+1, cfg.Rounds, "", strings.TrimPrefix(kind, "server-"), group(int64(s.rps)), s.p99, s.cpu)
			results[kind] = append(results[kind], s)
		}
	}
	pick := func(kind string, f func(sample) float64) []float64 {
		var xs []float64
		for _, s := range results[kind] {
			xs = append(xs, f(s))
		}
		return xs
	}
	mk := func(name, unit, better string, f func(sample) float64) figure {
		fig := figure{Name: name, Unit: unit, Better: better, SmolAll: pick("server-smol", f), GoAll: pick("server-net", f)}
		fig.Smol, fig.Go = median(fig.SmolAll), median(fig.GoAll)
		return fig
	}
	label := fmt.Sprintf("echo %d B, %d conns", cfg.Size, cfg.Conns)
	return []figure{
		mk(label+": requests/s", "req/s", "higher", func(s sample) float64 { return s.rps }),
		mk(label+": p99 latency", "µs", "lower", func(s sample) float64 { return s.p99 }),
		mk(label+": server CPU per request", "ns", "lower", func(s sample) float64 { return s.cpu }),
	}, nil
}

func measureIdle(cfg config) (figure, error) {
	scpu, lcpu := cpus()
	one := func(kind string) (float64, error) {
		srv, err := start(kind, scpu)
		if err != nil {
			return 0, err
		}
		defer srv.stop()
		addr, err := srv.line()
		if err != nil {
			return 0, err
		}
		before, err := srv.ask("rss")
		if err != nil {
			return 0, err
		}
		cl, err := start(fmt.Sprintf("idle:%s:%d", addr, cfg.Idle), lcpu)
		if err != nil {
			return 0, err
		}
		defer cl.stop()
		if s, err := cl.line(); err != nil || s != "ready" {
			return 0, fmt.Errorf("idle client said %q, %v", s, err)
		}
		after, err := srv.ask("rss")
		if err != nil {
			return 0, err
		}
		return float64(after-before) / float64(cfg.Idle), nil
	}
	return rounds(cfg, fmt.Sprintf("memory per idle connection (%s)", group(int64(cfg.Idle))), "B", "lower",
		func() (float64, error) { return one("server-smol") },
		func() (float64, error) { return one("server-net") })
}

// runLoadChild handles the client and idle child modes.
func runLoadChild(kind, arg string) error {
	f := strings.Split(arg, ":")
	switch kind {
	case "client":
		if len(f) != 6 {
			return fmt.Errorf("bad client arguments %q", arg)
		}
		var n [4]int64
		for i, s := range f[2:] {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return err
			}
			n[i] = v
		}
		r, err := client(f[0]+":"+f[1], int(n[0]), int(n[1]), time.Duration(n[2]), time.Duration(n[3]))
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode(r)
	case "idle":
		if len(f) != 3 {
			return fmt.Errorf("bad idle arguments %q", arg)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		return hold(f[0]+":"+f[1], n)
	}
	return fmt.Errorf("unknown mode %q", kind)
}
