// Package echoserver holds what every benchmark echo server shares, so that
// the servers differ only in their I/O engine: the command-line flags, the
// ready line the driver waits for, and the ways to ask a running server for
// its resident memory.
//
// A server started by the driver prints exactly one line to stdout once it
// accepts connections:
//
//	READY server=gnet pid=1234 addr=127.0.0.1:17001 gomaxprocs=1 note="..."
//
// Resident memory can be asked for in three ways:
//
//   - from outside, by reading VmRSS in /proc/PID/status (what the load
//     generator does; it needs nothing from the server);
//   - by sending SIGUSR1: the server prints "RSS bytes=N" to stdout;
//   - over the optional control port (-ctl): one command per line,
//     "rss" answers "rss N", "gc" runs a full GC, returns freed memory to
//     the OS and then answers "rss N", "quit" exits the process.
//
// The control port also answers "stats" with "stats " and one line of JSON
// (the Stats type): the goroutine count, resident memory and a few Go heap
// figures, which only the process itself can tell. The soak test
// (bench/soak.sh) samples it; every server that calls Ready has it.
//
// The control goroutine and the signal goroutine are idle while the
// benchmark runs and are present in every server alike, so they do not bias
// the comparison.
package echoserver

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/smolgo/smol/bench/internal/procfs"
)

// Config is the command line every echo server takes.
type Config struct {
	// Addr is the TCP address to listen on, such as 127.0.0.1:17001.
	Addr string
	// Ctl is the optional control address (see the package doc); empty
	// means no control port.
	Ctl string
}

// ParseFlags registers the common flags, parses the command line and
// returns the result.
func ParseFlags() *Config {
	c := &Config{}
	flag.StringVar(&c.Addr, "addr", "127.0.0.1:17001", "TCP address to listen on")
	flag.StringVar(&c.Ctl, "ctl", "", "optional control address (rss/gc/stats/quit line protocol)")
	flag.Parse()
	return c
}

// Ready prints the ready line, starts the control port if one was asked
// for, and installs the signal handlers: SIGUSR1 prints the resident
// memory, SIGINT and SIGTERM call stop (if not nil) and exit. It must be
// called once the server accepts connections.
func Ready(cfg *Config, server, addr, note string) {
	if cfg.Ctl != "" {
		ln, err := net.Listen("tcp", cfg.Ctl)
		if err != nil {
			Fatal("control listen: %v", err)
		}
		go serveControl(ln)
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				rss, err := procfs.RSS(0)
				if err != nil {
					fmt.Fprintf(os.Stdout, "RSS error=%q\n", err.Error())
					continue
				}
				fmt.Fprintf(os.Stdout, "RSS bytes=%d\n", rss)
				continue
			}
			os.Exit(0)
		}
	}()
	fmt.Fprintf(os.Stdout, "READY server=%s pid=%d addr=%s gomaxprocs=%d note=%q\n",
		server, os.Getpid(), addr, runtime.GOMAXPROCS(0), note)
}

// serveControl answers control connections one at a time; the driver and
// load generator use at most one.
func serveControl(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			switch strings.TrimSpace(sc.Text()) {
			case "rss":
			case "gc":
				// Two cycles, so that objects freed by finalizers in the
				// first are swept by the second, then hand free pages back.
				runtime.GC()
				debug.FreeOSMemory()
			case "stats":
				b, err := json.Marshal(ReadStats())
				if err != nil {
					fmt.Fprintf(c, "error %v\n", err)
					continue
				}
				fmt.Fprintf(c, "stats %s\n", b)
				continue
			case "quit":
				os.Exit(0)
			default:
				fmt.Fprintf(c, "error unknown command\n")
				continue
			}
			rss, err := procfs.RSS(0)
			if err != nil {
				fmt.Fprintf(c, "error %v\n", err)
				continue
			}
			fmt.Fprintf(c, "rss %d\n", rss)
		}
		c.Close()
	}
}

// Stats is the answer to the control command "stats": what a server
// process can tell about itself that /proc cannot. The goroutine count
// includes the control and signal goroutines (two, present in every
// server alike).
type Stats struct {
	Goroutines int `json:"goroutines"` // runtime.NumGoroutine
	// RSS is VmRSS read from /proc/self/status, in bytes; 0 if it could
	// not be read.
	RSS int64 `json:"rss"`
	// From runtime.MemStats, in bytes except the counts.
	HeapAlloc   uint64 `json:"heap_alloc"`
	HeapInuse   uint64 `json:"heap_inuse"`
	HeapSys     uint64 `json:"heap_sys"`
	HeapObjects uint64 `json:"heap_objects"`
	StackInuse  uint64 `json:"stack_inuse"`
	Sys         uint64 `json:"sys"`
	NumGC       uint32 `json:"num_gc"`
}

// ReadStats reads the calling process's Stats. runtime.ReadMemStats stops
// the world for a few microseconds, so it is meant to be called every few
// seconds, not per request.
func ReadStats() Stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, _ := procfs.RSS(0)
	return Stats{
		Goroutines:  runtime.NumGoroutine(),
		RSS:         rss,
		HeapAlloc:   ms.HeapAlloc,
		HeapInuse:   ms.HeapInuse,
		HeapSys:     ms.HeapSys,
		HeapObjects: ms.HeapObjects,
		StackInuse:  ms.StackInuse,
		Sys:         ms.Sys,
		NumGC:       ms.NumGC,
	}
}

// Fatal prints a message to stderr and exits with status 1.
func Fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "echo server: "+format+"\n", args...)
	os.Exit(1)
}
