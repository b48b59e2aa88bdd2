//go:build linux

package uring

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParkWhileSubmitting runs Park in one goroutine while another submits
// and reaps under a lock, as internal/poller does; -race checks that Park
// touches nothing the owner's methods use, and every no-op's completion
// ends a park.
func TestParkWhileSubmitting(t *testing.T) {
	requireURing(t)
	r, err := New(Options{Park: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var mu sync.Mutex
	const ops = 500
	got := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		var cqes [16]CQE
		for got < ops {
			if err := r.Park(time.Second); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got += r.Reap(cqes[:])
			mu.Unlock()
		}
	}()
	for i := 0; i < ops; i++ {
		mu.Lock()
		sqe, err := r.GetSQE()
		if err == nil {
			PrepNop(sqe, uint64(i))
			_, err = r.Submit()
		}
		mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("reaped %d of %d completions", got, ops)
	}
}

// TestKickLeavesNoPastDeadline: a Notify that kicks a parked goroutine
// sets a read deadline in the past on the ring fd's file. Later parks must
// block again: a few may return early, but never a loop of them. Every
// round ends with a real kick; odd rounds also begin with a stale one,
// forced by calling Notify with parked set by hand while nobody parks.
func TestKickLeavesNoPastDeadline(t *testing.T) {
	requireURing(t)
	r, err := New(Options{Park: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.rc == nil {
		t.Fatal("the ring fd is not pollable by the Go runtime; the kick is not exercised")
	}
	var cqes [8]CQE
	for round := range 30 {
		if round%2 == 1 {
			r.parked.Store(true)
			if err := r.Notify(); err != nil {
				t.Fatal(err)
			}
			r.parked.Store(false)
			r.Reap(cqes[:]) // consume that wake-up; the past deadline stays
		}
		var stop atomic.Bool
		returns := make(chan int)
		go func() {
			n := 0
			for !stop.Load() {
				if err := r.Park(-1); err != nil {
					t.Error(err)
					break
				}
				r.Reap(cqes[:])
				n++
			}
			returns <- n
		}()
		time.Sleep(20 * time.Millisecond)
		stop.Store(true)
		if err := r.Notify(); err != nil {
			t.Fatal(err)
		}
		if n := <-returns; n > 4 {
			t.Fatalf("round %d: Park with no timeout returned %d times in 20 ms: a past deadline was left behind", round, n)
		}
	}
}
