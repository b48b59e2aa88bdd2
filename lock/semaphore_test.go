package lock_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
)

func TestSemaphoreBasics(t *testing.T) {
	s := lock.NewSemaphore(3)
	if !s.TryAcquire(2) || s.TryAcquire(2) || !s.TryAcquire(1) || s.TryAcquire(1) {
		t.Fatal("TryAcquire counts wrong")
	}
	s.Release(3)
	if !s.TryAcquire(3) {
		t.Fatal("Release did not return permits")
	}
	s.Release(3)
	mustPanic(t, "Acquire(-1)", func() { _ = s.Acquire(-1) })
	mustPanic(t, "Release(-1)", func() { s.Release(-1) })
	mustPanic(t, "NewSemaphore(-1)", func() { lock.NewSemaphore(-1) })
	var zero lock.Semaphore
	if zero.TryAcquire(1) || !zero.TryAcquire(0) {
		t.Fatal("zero Semaphore")
	}
}

// TestSemaphoreFIFO: a large request at the front is served before smaller
// ones behind it, and nobody barges past the line.
func TestSemaphoreFIFO(t *testing.T) {
	s := lock.NewSemaphore(0)
	big, small := s.Acquire(3), s.Acquire(1)
	var wb, ws counter
	if _, ok, _ := big.Poll(cx(&wb)); ok {
		t.Fatal("big ready")
	}
	if _, ok, _ := small.Poll(cx(&ws)); ok {
		t.Fatal("small ready")
	}
	s.Release(1)
	if wb.take()+ws.take() != 0 {
		t.Fatal("woken before the front request fits")
	}
	if s.TryAcquire(1) {
		t.Fatal("TryAcquire barged past waiters")
	}
	s.Release(2)
	if wb.take() != 1 || ws.take() != 0 {
		t.Fatal("front request not served first")
	}
	if _, ok, _ := big.Poll(cx(&wb)); !ok {
		t.Fatal("big not ready")
	}
	s.Release(3)
	if ws.take() != 1 {
		t.Fatal("small not woken")
	}
	if _, ok, _ := small.Poll(cx(&ws)); !ok {
		t.Fatal("small not ready")
	}
	s.Release(1)
	if !s.TryAcquire(2) {
		t.Fatal("permits lost")
	}
}

// TestSemaphoreDiscard: a discarded waiter at the front lets the next one
// through; permits granted to a discarded waiter come back.
func TestSemaphoreDiscard(t *testing.T) {
	s := lock.NewSemaphore(1)
	big, small := s.Acquire(5), s.Acquire(1)
	var wb, ws counter
	big.Poll(cx(&wb))
	small.Poll(cx(&ws))
	big.Discard()
	if ws.take() != 1 {
		t.Fatal("discarding the front waiter did not wake the next")
	}
	if _, ok, _ := small.Poll(cx(&ws)); !ok {
		t.Fatal("small not ready")
	}
	// Granted but discarded before it polled: the permit comes back.
	a := s.Acquire(1)
	a.Poll(noop)
	s.Release(1)
	a.Discard()
	if !s.TryAcquire(1) {
		t.Fatal("permit granted to a discarded waiter was lost")
	}
}

// TestSemaphoreLimit: tasks and goroutines never hold more than the
// permits.
func TestSemaphoreLimit(t *testing.T) {
	const permits = 3
	s := lock.NewSemaphore(permits)
	var in, peak atomic.Int32
	enter := func() {
		n := in.Add(1)
		if n > permits {
			panic("over the limit")
		}
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
	}
	var fs []smol.Future[struct{}]
	for i := range 8 {
		n := int64(i%2 + 1)
		var st []func() smol.Future[struct{}]
		for range 100 {
			st = append(st, await(func() smol.Future[struct{}] { return s.Acquire(n) }),
				do(enter), yield(), do(func() { in.Add(-1); s.Release(n) }))
		}
		fs = append(fs, &steps{fs: st})
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 200 {
			s.AcquireBlocking(1)
			enter()
			in.Add(-1)
			s.Release(1)
		}
	}()
	runTasks(t, fs...)
	wg.Wait()
	if !s.TryAcquire(permits) {
		t.Fatal("permits lost")
	}
}

func TestSemaphoreContext(t *testing.T) {
	s := lock.NewSemaphore(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.AcquireContext(ctx, 2); err != context.Canceled {
		t.Fatalf("AcquireContext = %v", err)
	}
	// The canceled request left nothing behind: a small one goes through.
	if err := s.AcquireContext(ctx, 1); err != nil {
		t.Fatalf("AcquireContext = %v", err)
	}
}
