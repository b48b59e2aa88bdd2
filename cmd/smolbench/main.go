// Command smolbench compares smol with plain goroutines on the machine it
// runs on, in under a minute, and prints a table:
//
//   - memory per pending task: resident memory growth with N tasks pending
//     on a future that never fires, against N goroutines parked on a channel;
//   - spawn and complete: a trivial task on a LocalExecutor and on an
//     Executor, against `go f()` with a sync.WaitGroup;
//   - echo: 64-byte ping-pong over loopback TCP at 1,000 connections, against
//     a smol server (one goroutine, a state machine per connection) and a net
//     server (a goroutine per connection); requests/s, p99 latency, and the
//     server's CPU time per request;
//   - memory per idle connection: server resident memory growth with 5,000
//     open, idle connections, for both servers.
//
// Each figure is measured in rounds that interleave smol and its goroutine
// counterpart (three by default); the table shows medians. Memory figures
// and servers run in child processes (this binary re-executed), so one
// measurement cannot disturb the next. On Linux the servers are pinned to
// CPU 0 and the load generator to CPU 1 when the machine has two or more.
//
// Progress goes to stderr; -json prints the results as JSON on stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

type config struct {
	Tasks    int           `json:"tasks"`
	Spawn    int           `json:"spawn"`
	Conns    int           `json:"conns"`
	Size     int           `json:"size"`
	Duration time.Duration `json:"duration_ns"`
	Idle     int           `json:"idle_conns"`
	Rounds   int           `json:"rounds"`
}

// figure is one row of the table: the median of the rounds for smol and
// for its goroutine counterpart.
type figure struct {
	Name    string    `json:"name"`
	Unit    string    `json:"unit"`
	Smol    float64   `json:"smol"`
	Go      float64   `json:"goroutines"`
	SmolAll []float64 `json:"smol_rounds"`
	GoAll   []float64 `json:"goroutine_rounds"`
	Better  string    `json:"better"` // "lower" or "higher"
}

func main() {
	if child := os.Getenv(childEnv); child != "" {
		runChild(child)
		return
	}
	var cfg config
	quick := flag.Bool("quick", false, "tiny sizes, one round: a smoke test that takes a few seconds")
	asJSON := flag.Bool("json", false, "print the results as JSON on stdout")
	flag.IntVar(&cfg.Tasks, "tasks", 1_000_000, "pending tasks (and parked goroutines) for the memory figure")
	flag.IntVar(&cfg.Spawn, "spawn", 1_000_000, "tasks (and goroutines) spawned for the spawn figure")
	flag.IntVar(&cfg.Conns, "conns", 1000, "connections for the echo figure")
	flag.IntVar(&cfg.Size, "size", 64, "echo message size in bytes")
	flag.DurationVar(&cfg.Duration, "duration", 3*time.Second, "echo measurement time per server and round")
	flag.IntVar(&cfg.Idle, "idle", 5000, "idle connections for the memory-per-connection figure")
	flag.IntVar(&cfg.Rounds, "rounds", 3, "rounds; the table shows medians")
	flag.Parse()
	if *quick {
		cfg = config{Tasks: 20_000, Spawn: 50_000, Conns: 20, Size: 64, Duration: 300 * time.Millisecond, Idle: 200, Rounds: 1}
	}
	if err := validate(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "smolbench:", err)
		os.Exit(2)
	}

	progress("smolbench: %d rounds on %s/%s, %d CPUs, %s", cfg.Rounds, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	var figs []figure
	add := func(f figure, err error) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "smolbench:", err)
			os.Exit(1)
		}
		figs = append(figs, f)
	}
	add(measurePending(cfg))
	add(measureSpawn(cfg, "local"))
	add(measureSpawn(cfg, "executor"))
	echo, err := measureEcho(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "smolbench:", err)
		os.Exit(1)
	}
	figs = append(figs, echo...)
	add(measureIdle(cfg))

	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(struct {
			Config  config   `json:"config"`
			GOOS    string   `json:"goos"`
			CPUs    int      `json:"cpus"`
			Go      string   `json:"go"`
			Figures []figure `json:"figures"`
		}{cfg, runtime.GOOS, runtime.NumCPU(), runtime.Version(), figs})
		return
	}
	printTable(figs, cfg)
}

func validate(c config) error {
	switch {
	case c.Tasks < 1 || c.Spawn < 1 || c.Conns < 1 || c.Idle < 1 || c.Rounds < 1:
		return fmt.Errorf("-tasks, -spawn, -conns, -idle and -rounds must be at least 1")
	case c.Size < 1 || c.Size > 1<<20:
		return fmt.Errorf("-size must be in 1..1048576")
	case c.Duration < 10*time.Millisecond:
		return fmt.Errorf("-duration must be at least 10ms")
	}
	// Each connection holds one fd in the client and one in the server, in
	// different processes, so each process needs conns plus some slack.
	if limit := fdLimit(); limit > 0 {
		for _, n := range []int{c.Conns, c.Idle} {
			if n+64 > limit {
				return fmt.Errorf("%d connections need %d file descriptors per process, but the open-file limit here is %d: use fewer", n, n+64, limit)
			}
		}
	}
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// rounds runs smol and its counterpart alternately, starting with a
// different one each round so neither always runs on a warmer machine.
func rounds(cfg config, name, unit, better string, smolFn, goFn func() (float64, error)) (figure, error) {
	f := figure{Name: name, Unit: unit, Better: better}
	for i := range cfg.Rounds {
		order := []bool{true, false}
		if i%2 == 1 {
			order = []bool{false, true}
		}
		for _, isSmol := range order {
			fn, side := goFn, "goroutines"
			if isSmol {
				fn, side = smolFn, "smol"
			}
			v, err := fn()
			if err != nil {
				return f, fmt.Errorf("%s (%s): %w", name, side, err)
			}
			progress("  round %d/%d  %-32s %-10s %s", i+1, cfg.Rounds, name, side, format(v, unit))
			if isSmol {
				f.SmolAll = append(f.SmolAll, v)
			} else {
				f.GoAll = append(f.GoAll, v)
			}
		}
	}
	f.Smol, f.Go = median(f.SmolAll), median(f.GoAll)
	return f, nil
}

func format(v float64, unit string) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%s %s", group(int64(v+0.5)), unit)
	case v >= 10:
		return fmt.Sprintf("%.1f %s", v, unit)
	default:
		return fmt.Sprintf("%.2f %s", v, unit)
	}
}

func group(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func printTable(figs []figure, cfg config) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "figure\tsmol\tgoroutines\tsmol vs goroutines\t\n")
	for _, f := range figs {
		ratio := "-"
		if f.Smol > 0 && f.Go > 0 {
			r := f.Go / f.Smol
			word := "less"
			if f.Better == "higher" {
				r, word = f.Smol/f.Go, "more"
			}
			if strings.Contains(f.Unit, "ns") || f.Unit == "ms" {
				word = "faster"
				if r < 1 {
					word = "slower"
				}
			}
			if r >= 1 {
				ratio = fmt.Sprintf("%.2fx %s", r, word)
			} else {
				ratio = fmt.Sprintf("%.2fx (worse)", r)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", f.Name, format(f.Smol, f.Unit), format(f.Go, f.Unit), ratio)
	}
	w.Flush()
	fmt.Printf("\nmedians of %d round(s); echo: %d connections, %d-byte messages, %v per round; idle: %d connections\n",
		cfg.Rounds, cfg.Conns, cfg.Size, cfg.Duration, cfg.Idle)
}
