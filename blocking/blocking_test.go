package blocking_test

import (
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
)

// waitIdle waits until every goroutine of pool has exited.
func waitIdle(t *testing.T, pool *blocking.Pool) {
	t.Helper()
	waitFor(t, "the pool's goroutines to exit", func() bool { return pool.Threads() == 0 })
}

func TestUnblockOnResult(t *testing.T) {
	checkLeaks(t)
	pool := blocking.NewPool(2, 10*time.Millisecond)
	defer waitIdle(t, pool)
	if got, err := smol.BlockOn(blocking.UnblockOn(pool, func() (string, error) { return "done", nil })); err != nil || got != "done" {
		t.Fatalf("got (%q, %v)", got, err)
	}
	// The function's error is the future's error.
	errBlocking := errors.New("blocking call failed")
	if got, err := smol.BlockOn(blocking.UnblockOn(pool, func() (int, error) { return 3, errBlocking })); err != errBlocking || got != 3 {
		t.Fatalf("a failing call: got (%d, %v), want (3, %v)", got, err, errBlocking)
	}
	// Awaited from tasks, many at once.
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var fs []smol.Future[int]
	for i := range 20 {
		fs = append(fs, smol.SpawnOn(ex, smol.Map(blocking.UnblockOn(pool, func() (int, error) {
			time.Sleep(time.Millisecond) // a blocking call
			return i, nil
		}), func(n int) int { return n * n })))
	}
	got, err := smol.Run(ex, smol.JoinAll(fs))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != i*i {
			t.Fatalf("got %v", got)
		}
	}
}

func TestUnblockOnStartsAtOnce(t *testing.T) {
	// The function runs whether or not the future is polled.
	checkLeaks(t)
	pool := blocking.NewPool(1, 10*time.Millisecond)
	defer waitIdle(t, pool)
	ran := make(chan struct{})
	f := blocking.UnblockOn(pool, func() (int, error) { close(ran); return 1, nil })
	<-ran
	var v int
	var err error
	waitFor(t, "the result", func() bool { var ok bool; v, ok, err = f.Poll(noop); return ok })
	if v != 1 || err != nil {
		t.Fatalf("got (%d, %v)", v, err)
	}
}

//go:noinline
func blockingPanicStep() (int, error) { panic(errors.New("blocking boom")) }

func TestUnblockOnPanic(t *testing.T) {
	checkLeaks(t)
	pool := blocking.NewPool(1, 10*time.Millisecond)
	defer waitIdle(t, pool)
	f := blocking.UnblockOn(pool, blockingPanicStep)
	v := mustPanic(t, func() { smol.BlockOn(f) })
	pe, ok := v.(*smol.PanicError)
	if !ok {
		t.Fatalf("panicked with %#v, want *smol.PanicError", v)
	}
	if err, _ := pe.Value.(error); err == nil || err.Error() != "blocking boom" {
		t.Fatalf("Value = %#v", pe.Value)
	}
	if !strings.Contains(string(pe.Stack), "blockingPanicStep") {
		t.Fatalf("the stack does not mention the panicking function:\n%s", pe.Stack)
	}
	// The pool survives the panic.
	if got, err := smol.BlockOn(blocking.UnblockOn(pool, func() (int, error) { return 2, nil })); err != nil || got != 2 {
		t.Fatalf("after a panic: got (%d, %v)", got, err)
	}
}

func TestPoolLimit(t *testing.T) {
	checkLeaks(t)
	const limit, jobs = 4, 100
	pool := blocking.NewPool(limit, 10*time.Millisecond)
	defer waitIdle(t, pool)
	var running, peak, started atomic.Int32
	gate := make(chan struct{})
	var fs []smol.Future[int]
	for i := range jobs {
		fs = append(fs, blocking.UnblockOn(pool, func() (int, error) {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			started.Add(1)
			<-gate
			running.Add(-1)
			return i, nil
		}))
	}
	// With every goroutine blocked, exactly limit jobs have started and the
	// other 96 wait in the queue.
	waitFor(t, "the pool to fill", func() bool { return started.Load() == limit })
	if n := pool.Threads(); n != limit {
		t.Fatalf("Threads() = %d with %d jobs queued, want %d", n, jobs, limit)
	}
	close(gate)
	got := must(smol.BlockOn(smol.JoinAll(fs)))
	for i, v := range got {
		if v != i {
			t.Fatalf("results %v", got)
		}
	}
	if p := peak.Load(); p > limit {
		t.Fatalf("%d jobs ran at once, limit %d", p, limit)
	}
	if n := pool.Threads(); n > limit {
		t.Fatalf("Threads() = %d, limit %d", n, limit)
	}
}

func TestPoolIdleExit(t *testing.T) {
	checkLeaks(t)
	pool := blocking.NewPool(3, 5*time.Millisecond)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	var fs []smol.Future[struct{}]
	for range 3 {
		wg.Add(1)
		fs = append(fs, blocking.UnblockOn(pool, func() (struct{}, error) { wg.Done(); <-gate; return struct{}{}, nil }))
	}
	wg.Wait()
	if n := pool.Threads(); n != 3 {
		t.Fatalf("Threads() = %d with 3 blocked jobs, want 3", n)
	}
	close(gate)
	must(smol.BlockOn(smol.JoinAll(fs)))
	// Idle goroutines exit after the timeout.
	waitIdle(t, pool)
	// And the pool starts new ones for new work.
	if got, err := smol.BlockOn(blocking.UnblockOn(pool, func() (int, error) { return 5, nil })); err != nil || got != 5 {
		t.Fatalf("got (%d, %v)", got, err)
	}
	waitIdle(t, pool)
}

func TestNewPoolBadArgs(t *testing.T) {
	for _, c := range []struct {
		n int
		d time.Duration
	}{{0, time.Second}, {-1, time.Second}, {1, 0}, {1, -time.Second}} {
		mustPanic(t, func() { blocking.NewPool(c.n, c.d) })
	}
}

func TestUnblock(t *testing.T) {
	// The default pool's idle goroutines exit 500ms after their last job;
	// they are ignored here.
	checkLeaks(t, goleak.IgnoreAnyFunction("github.com/smolgo/smol/blocking.(*Pool).work"))
	f := blocking.Unblock(func() (os.FileInfo, error) { return os.Stat(os.DevNull) })
	fi, err := smol.BlockOn(f)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Name() != "null" {
		t.Fatalf("Stat(%s).Name() = %q", os.DevNull, fi.Name())
	}
	// A failing call's error comes through.
	if _, err := smol.BlockOn(blocking.Unblock(func() (os.FileInfo, error) { return os.Stat("/nonexistent/smol") })); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat of a missing file: %v, want ErrNotExist", err)
	}
}
