package main

import (
	"time"
	_ "unsafe" // for go:linkname

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/bench/internal/procfs"
)

// nanotime is the runtime's monotonic clock: one vDSO call, about half the
// cost of time.Now, which also reads the wall clock. The runtime keeps this
// linkname working on purpose because many packages rely on it.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// window records the measured interval: its monotonic bounds, the server's
// CPU time and resident memory, and this process's own CPU time at both
// ends.
type window struct {
	pid        int // server PID, 0 if unknown
	t0, t1     int64
	srv0, srv1 time.Duration
	own0, own1 time.Duration
	rss1       int64
	err        error
}

func ownCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// begin opens the window at monotonic time now.
func (w *window) begin(now int64) {
	w.t0 = now
	w.own0 = ownCPU()
	if w.pid != 0 {
		w.srv0, w.err = procfs.CPUTime(w.pid)
	}
}

// end closes the window at monotonic time now.
func (w *window) end(now int64) {
	w.t1 = now
	w.own1 = ownCPU()
	if w.pid != 0 {
		var err error
		if w.srv1, err = procfs.CPUTime(w.pid); err != nil && w.err == nil {
			w.err = err
		}
		if w.rss1, err = procfs.RSS(w.pid); err != nil && w.err == nil {
			w.err = err
		}
	}
}

func (w *window) seconds() float64 { return float64(w.t1-w.t0) / 1e9 }
