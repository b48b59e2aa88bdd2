package smol_test

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/clock"
)

// start is where the examples' manual clocks begin.
var start = time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)

// A timer is a future of its deadline. On a manual clock it fires when the
// test moves the clock past it, not before, and without any real sleep.
func ExampleTimer() {
	clk := clock.NewManual(start)
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	t := smol.SpawnOn(ex, smol.After(90*time.Second))
	for ex.TryTick() {
	}
	fmt.Println("after 0s:", t.IsFinished())
	clk.Advance(time.Minute)
	for ex.TryTick() {
	}
	fmt.Println("after 60s:", t.IsFinished())
	clk.Advance(30 * time.Second)
	for ex.TryTick() {
	}
	deadline, err := smol.BlockOn(t)
	fmt.Println("after 90s:", t.IsFinished(), deadline.Format(time.TimeOnly), err)
	// Output:
	// after 0s: false
	// after 60s: false
	// after 90s: true 09:01:30 <nil>
}

// Sleep pauses a task; on the real clock it takes real time.
func ExampleSleep() {
	begin := time.Now()
	smol.BlockOn(smol.Sleep(20 * time.Millisecond))
	fmt.Println(time.Since(begin) >= 20*time.Millisecond)
	// Output: true
}

// An interval fires on a fixed grid. A task that comes back late sees one
// tick, not a burst of the ones it missed.
func ExampleInterval() {
	clk := clock.NewManual(start)
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	iv := smol.Interval(10 * time.Second)
	var ticks []string
	smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for {
			t, ok, err := iv.Poll(cx)
			if !ok || err != nil {
				return struct{}{}, ok, err
			}
			ticks = append(ticks, t.Format(time.TimeOnly))
		}
	})).Detach()
	for ex.TryTick() { // the first poll: the interval counts from here
	}
	for _, step := range []time.Duration{10 * time.Second, 10 * time.Second, 35 * time.Second} {
		clk.Advance(step)
		for ex.TryTick() {
		}
	}
	fmt.Println(ticks)
	// Output: [09:00:10 09:00:20 09:00:50]
}

// Timeout bounds a future; its error says why it ended.
func ExampleTimeout() {
	clk := clock.NewManual(start)
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	slow := smol.SpawnOn(ex, smol.Timeout(smol.Never[string](), 5*time.Second))
	quick := smol.SpawnOn(ex, smol.Timeout(smol.Ready("in time"), 5*time.Second))
	for ex.TryTick() {
	}
	clk.Advance(5 * time.Second)
	for ex.TryTick() {
	}
	_, err := smol.BlockOn(slow)
	fmt.Println(errors.Is(err, smol.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded))
	fmt.Println(smol.BlockOn(quick))
	// Output:
	// true true
	// in time <nil>
}

// An FD turns any non-blocking descriptor, here a pipe, into futures.
func ExampleFD() {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		fmt.Println(err)
		return
	}
	r, err := smol.NewFD(p[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	w, err := smol.NewFD(p[1])
	if err != nil {
		fmt.Println(err)
		return
	}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	buf := make([]byte, 16)
	reader := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (string, bool, error) {
		n, ok, err := r.PollRead(cx, buf)
		return string(buf[:n]), ok, err
	}))
	writer := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		n, ok, err := w.PollWrite(cx, []byte("through a pipe"))
		if ok {
			w.Close()
		}
		return n, ok, err
	}))
	got, err := smol.Run(ex, reader) // the reader waits until the writer has run
	fmt.Println(got, err)
	fmt.Println(smol.Run(ex, writer))
	// Output:
	// through a pipe <nil>
	// 14 <nil>
}

// Tick runs one task at a time, waiting when none is queued: a program can
// drive an executor from a loop of its own.
func ExampleLocalExecutor_Tick() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	for i := range 3 {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
			fmt.Println("task", i)
			return struct{}{}, true, nil
		})).Detach()
	}
	for range 3 {
		if err := ex.Tick(); err != nil {
			fmt.Println(err)
		}
	}
	ex.Close()
	fmt.Println(ex.Tick())
	// Output:
	// task 0
	// task 1
	// task 2
	// smol: executor closed
}
