// Command report reduces the load generator's JSON lines to medians over
// rounds, prints them as tables and writes them as a result.Summary JSON.
//
//	report -in raw.jsonl -out summary.json -meta rounds=3 -meta engine=epoll
//
// Each (scenario, server) pair becomes one group; every figure is the median
// over that pair's successful rounds. Failed rounds are counted and their
// errors kept. Requests/s is also given as a ratio to net's median in the
// same scenario, since only ratios measured in one run are comparable.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/result"
	"github.com/smolgo/smol/bench/internal/stats"
)

type metaFlags map[string]string

func (m metaFlags) String() string { return fmt.Sprint(map[string]string(m)) }
func (m metaFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("want key=value, got %q", s)
	}
	m[k] = v
	return nil
}

func main() {
	in := flag.String("in", "", "JSON lines from loadgen -json (default stdin)")
	out := flag.String("out", "", "write the summary JSON here")
	meta := metaFlags{}
	flag.Var(meta, "meta", "key=value recorded in the summary (repeatable)")
	flag.Parse()

	var r io.Reader = os.Stdin
	if *in != "" {
		f, err := os.Open(*in)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		r = f
	}
	runs, err := readRuns(r)
	if err != nil {
		fatal(err)
	}
	s := summarize(runs)
	s.Meta = meta
	s.Machine = machine()
	printTables(os.Stdout, s)
	if *out != "" {
		b, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			fatal(err)
		}
		if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "report:", err)
	os.Exit(1)
}

// readRuns parses one result.Result per non-empty line.
func readRuns(r io.Reader) ([]result.Result, error) {
	var runs []result.Result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var res result.Result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		runs = append(runs, res)
	}
	return runs, sc.Err()
}

// summarize groups runs by (scenario, server) in order of first
// appearance and takes medians.
func summarize(runs []result.Result) *result.Summary {
	type key struct{ scen, srv string }
	var order []key
	byKey := map[key][]result.Result{}
	for _, r := range runs {
		k := key{r.Scenario, r.Server}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	s := &result.Summary{}
	for _, k := range order {
		rs := byKey[k]
		g := result.Group{Scenario: k.scen, Server: k.srv, Mode: rs[0].Mode, Conns: rs[0].Conns, Size: rs[0].Size}
		var ok []result.Result
		for _, r := range rs {
			if r.Error != "" {
				g.Failed++
				g.Errors = append(g.Errors, fmt.Sprintf("round %d: %s", r.Round, r.Error))
				continue
			}
			ok = append(ok, r)
		}
		g.Rounds = len(ok)
		med := func(f func(r result.Result) float64) float64 {
			xs := make([]float64, len(ok))
			for i, r := range ok {
				xs[i] = f(r)
			}
			return stats.Median(xs)
		}
		if len(ok) > 0 {
			g.RPS = med(func(r result.Result) float64 { return r.RPS })
			g.RPSMin, g.RPSMax = ok[0].RPS, ok[0].RPS
			for _, r := range ok {
				g.RPSMin = min(g.RPSMin, r.RPS)
				g.RPSMax = max(g.RPSMax, r.RPS)
			}
			g.P50us = med(func(r result.Result) float64 { return r.P50us })
			g.P99us = med(func(r result.Result) float64 { return r.P99us })
			g.P999us = med(func(r result.Result) float64 { return r.P999us })
			g.Jain = med(func(r result.Result) float64 { return r.Jain })
			g.ServerNsReq = med(func(r result.Result) float64 { return r.ServerNsReq })
			g.ServerCPUUtil = med(func(r result.Result) float64 { return r.ServerCPUUtil })
			g.ClientCPUUtil = med(func(r result.Result) float64 { return r.ClientCPUUtil })
			g.ClientNsReq = med(func(r result.Result) float64 { return r.ClientNsReq })
			g.BytesConn = med(func(r result.Result) float64 { return r.BytesConn })
			g.BytesConnGC = med(func(r result.Result) float64 { return r.BytesConnG })
			g.RSSLoaded = med(func(r result.Result) float64 { return float64(r.RSSLoaded) })
		}
		s.Groups = append(s.Groups, g)
	}
	// Ratios against net in the same scenario.
	netRPS := map[string]float64{}
	for _, g := range s.Groups {
		if g.Server == "net" && g.Mode == "echo" {
			netRPS[g.Scenario] = g.RPS
		}
	}
	for i := range s.Groups {
		g := &s.Groups[i]
		if base := netRPS[g.Scenario]; base > 0 && g.Mode == "echo" {
			g.VsNet = g.RPS / base
		}
	}
	return s
}

// printTables writes one table for echo scenarios and one for idle ones.
func printTables(w io.Writer, s *result.Summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var echo, idle, clientBound bool
	for _, g := range s.Groups {
		echo = echo || g.Mode == "echo"
		idle = idle || g.Mode == "idle"
	}
	if echo {
		fmt.Fprintln(w, "Echo (ping-pong; medians over rounds; server CPU time per request does not depend on the client):")
		fmt.Fprintln(tw, "scenario\tserver\trounds\treq/s\tmin..max\tvs net\tp50 us\tp99 us\tp99.9 us\tJain\tsrv ns/req\tsrv CPU\tcli ns/req\tcli CPU\t")
		for _, g := range s.Groups {
			if g.Mode != "echo" {
				continue
			}
			if g.Rounds == 0 {
				fmt.Fprintf(tw, "%s\t%s\t0/%d\tFAILED\t\t\t\t\t\t\t\t\t\t\t\n", g.Scenario, g.Server, g.Failed)
				continue
			}
			vs := "-"
			if g.VsNet > 0 {
				vs = fmt.Sprintf("%.2fx", g.VsNet)
			}
			mark := ""
			if g.ClientCPUUtil > 0.9 {
				mark, clientBound = " *", true
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%.0f\t%.0f..%.0f\t%s\t%.0f\t%.0f\t%.0f\t%.4f\t%.0f\t%.0f%%\t%.0f\t%.0f%%%s\t\n",
				g.Scenario, g.Server, g.Rounds, g.Rounds+g.Failed, g.RPS, g.RPSMin, g.RPSMax, vs,
				g.P50us, g.P99us, g.P999us, g.Jain, g.ServerNsReq, 100*g.ServerCPUUtil, g.ClientNsReq, 100*g.ClientCPUUtil, mark)
		}
		tw.Flush()
		if clientBound {
			fmt.Fprintln(w, "  * the load generator used over 90% of its core: req/s may be capped by the client; compare srv ns/req.")
		}
		fmt.Fprintln(w)
	}
	if idle {
		fmt.Fprintln(w, "Idle connections (server resident memory growth / connections; medians over rounds):")
		fmt.Fprintln(tw, "scenario\tserver\trounds\tconns\tB/conn\tB/conn after GC\tRSS MiB\t")
		for _, g := range s.Groups {
			if g.Mode != "idle" {
				continue
			}
			if g.Rounds == 0 {
				fmt.Fprintf(tw, "%s\t%s\t0/%d\t%d\tFAILED\t\t\t\n", g.Scenario, g.Server, g.Failed, g.Conns)
				continue
			}
			gc := "-"
			if g.BytesConnGC != 0 {
				gc = fmt.Sprintf("%.0f", g.BytesConnGC)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%.0f\t%s\t%.1f\t\n", g.Scenario, g.Server, g.Rounds,
				g.Rounds+g.Failed, g.Conns, g.BytesConn, gc, g.RSSLoaded/(1<<20))
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	for _, g := range s.Groups {
		for _, e := range g.Errors {
			fmt.Fprintf(w, "FAILED %s %s %s\n", g.Scenario, g.Server, e)
		}
	}
}

// machine describes this host; the report runs where the benchmark ran.
func machine() result.Machine {
	m := result.Machine{
		Cores:     runtime.NumCPU(),
		GoVersion: runtime.Version(),
		Date:      time.Now().UTC().Format(time.RFC3339),
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:])
	}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		m.FDLimit = strconv.FormatUint(rl.Max, 10)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	return m
}
