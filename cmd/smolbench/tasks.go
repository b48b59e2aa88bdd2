package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/smolgo/smol"
)

const childEnv = "SMOLBENCH_CHILD"

// runChild is this binary re-executed for one isolated measurement or as an
// echo server. It prints its result as one JSON line on stdout.
func runChild(mode string) {
	kind, arg, _ := strings.Cut(mode, ":")
	var v float64
	var err error
	switch kind {
	case "pending-smol", "pending-go":
		var n int
		n, err = strconv.Atoi(arg)
		if err == nil {
			v, err = pending(kind == "pending-smol", n)
		}
	case "server-smol", "server-net":
		if err = serve(kind == "server-smol"); err == nil {
			return
		}
	case "client", "idle":
		if err = runLoadChild(kind, arg); err == nil {
			return
		}
	default:
		err = fmt.Errorf("unknown child mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "smolbench child:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(v)
}

// fdLimit returns the soft open-file limit, or 0 if unknown.
func fdLimit() int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0
	}
	return int(min(r.Cur, 1<<30))
}

// rss reads the resident set size of this process.
func rss() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, fmt.Errorf("reading resident memory needs Linux /proc: %w", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}

func settle() (int64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	return rss()
}

// pending measures resident growth per pending task or parked goroutine.
func pending(useSmol bool, n int) (float64, error) {
	before, err := settle()
	if err != nil {
		return 0, err
	}
	var keep func()
	if useSmol {
		// Each task is polled once and then waits on a future that never
		// fires, so it is fully pending.
		ex := smol.NewLocalExecutor()
		never := smol.Never[struct{}]()
		for range n {
			smol.SpawnOn(ex, never).Detach()
		}
		for ex.TryTick() {
		}
		keep = ex.Close
	} else {
		block := make(chan struct{})
		var started sync.WaitGroup
		started.Add(n)
		for range n {
			go func() {
				started.Done()
				<-block
			}()
		}
		started.Wait()
		keep = func() { close(block) }
	}
	after, err := settle()
	keep()
	return float64(after-before) / float64(n), err
}

// child runs this binary in a child mode and decodes its result.
func child(mode string) (float64, error) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("child %s: %w", mode, err)
	}
	var v float64
	if err := json.Unmarshal(out, &v); err != nil {
		return 0, fmt.Errorf("child %s printed %q: %w", mode, out, err)
	}
	return v, nil
}

func measurePending(cfg config) (figure, error) {
	arg := ":" + strconv.Itoa(cfg.Tasks)
	return rounds(cfg, fmt.Sprintf("memory per pending task (%s)", group(int64(cfg.Tasks))), "B", "lower",
		func() (float64, error) { return child("pending-smol" + arg) },
		func() (float64, error) { return child("pending-go" + arg) })
}

// measureSpawn times spawning and completing trivial tasks, in process.
// Each task and each goroutine does the same work: one atomic add, and the
// last one signals the waiter.
func measureSpawn(cfg config, kind string) (figure, error) {
	n := int64(cfg.Spawn)
	smolFn := func() (float64, error) {
		runtime.GC()
		var done atomic.Int64
		fin := make(chan struct{})
		task := smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
			if done.Add(1) == n {
				close(fin)
			}
			return struct{}{}, true, nil
		})
		start := time.Now()
		switch kind {
		case "local":
			ex := smol.NewLocalExecutor()
			for range n {
				smol.SpawnOn(ex, task).Detach()
			}
			// Main yields once, so every queued task runs before Run returns.
			if _, err := smol.Run(ex, smol.YieldNow()); err != nil {
				return 0, err
			}
			<-fin
			ex.Close()
		default:
			ex := smol.NewExecutor()
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() { defer wg.Done(); smol.Run(ex, smol.Never[struct{}]()) }()
			}
			for range n {
				smol.SpawnOn(ex, task).Detach()
			}
			<-fin
			ex.Close()
			wg.Wait()
		}
		return float64(time.Since(start).Nanoseconds()) / float64(n), nil
	}
	goFn := func() (float64, error) {
		runtime.GC()
		var done atomic.Int64
		fin := make(chan struct{})
		start := time.Now()
		for range n {
			go func() {
				if done.Add(1) == n {
					close(fin)
				}
			}()
		}
		<-fin
		return float64(time.Since(start).Nanoseconds()) / float64(n), nil
	}
	name := "spawn + complete, LocalExecutor"
	if kind != "local" {
		name = fmt.Sprintf("spawn + complete, Executor (%d workers)", runtime.GOMAXPROCS(0))
	}
	return rounds(cfg, name, "ns", "lower", smolFn, goFn)
}
