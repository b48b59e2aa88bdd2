package smol_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
)

// This file holds the helpers the tests share: a hang detector that drives a
// future on a LocalExecutor and fails if the executor goes idle while the
// future is still pending, a hand-fired future, and a bounded wait.

// failer is the part of testing.TB that mustComplete uses, so that a test
// can check that the detector itself reports a hang.
type failer interface {
	Helper()
	Fatalf(format string, args ...any)
}

// maxTicks bounds how many tasks mustComplete runs before it calls the
// future livelocked (woken forever without finishing).
const maxTicks = 1_000_000

// mustComplete spawns f on ex, runs ex one task at a time until f's task has
// finished, and returns f's value. If ex runs out of queued tasks while f is
// still pending, nothing on ex can wake it any more: f (or a future it
// awaits) returned pending without arranging a wake, or waits for something
// that never happens. That is reported as a hang instead of blocking the
// test forever. Wakes must come from ex's own tasks or from code that runs
// before mustComplete is called; a future woken from another goroutine
// needs BlockOn or Run instead.
func mustComplete[T any](t failer, ex *smol.LocalExecutor, f smol.Future[T]) T {
	t.Helper()
	return driveOn(t, ex, f, maxTicks)
}

// driveOn is mustComplete with a bound on the number of tasks run.
func driveOn[T any](t failer, ex *smol.LocalExecutor, f smol.Future[T], limit int) T {
	t.Helper()
	task := smol.SpawnOn(ex, f)
	for n := 0; !task.IsFinished(); n++ {
		if n == limit {
			t.Fatalf("livelock: %d tasks run and the future is still pending", n)
			return *new(T)
		}
		if !ex.TryTick() {
			t.Fatalf("hang: the executor is idle but the future is pending, and nothing can wake it " +
				"(a Poll returned pending without arranging a wake)")
			return *new(T)
		}
	}
	if err := task.Err(); err != nil {
		t.Fatalf("the future's task was stopped: %v", err)
	}
	v, _ := task.Poll(smol.NewContext(smol.NoopWaker))
	return v
}

// complete is mustComplete on a fresh LocalExecutor.
func complete[T any](t failer, f smol.Future[T]) T {
	t.Helper()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	return mustComplete(t, ex, f)
}

// hangRecorder is a failer that records a failure instead of stopping the
// test, to check that mustComplete catches a hang.
type hangRecorder struct{ msg string }

func (h *hangRecorder) Helper() {}
func (h *hangRecorder) Fatalf(format string, args ...any) {
	if h.msg == "" {
		h.msg = fmt.Sprintf(format, args...)
	}
}

// signal is a future that is pending until Fire is called, and counts how
// often it was polled. It keeps the latest waker, as a correct future must.
type signal[T any] struct {
	mu    sync.Mutex
	fired bool
	v     T
	w     smol.Waker
	polls int
}

func newSignal[T any]() *signal[T] { return &signal[T]{} }

func (s *signal[T]) Poll(cx *smol.Context) (T, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	if s.fired {
		return s.v, true
	}
	s.w = cx.Waker()
	var zero T
	return zero, false
}

// Fire makes the future ready with v and wakes its waiter, if any.
func (s *signal[T]) Fire(v T) {
	s.mu.Lock()
	s.fired, s.v = true, v
	w := s.w
	s.w = nil
	s.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

// Polls reports how many times the future was polled.
func (s *signal[T]) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.polls
}

// fire returns a future that fires s with v and is ready at once: a task
// that wakes another.
func fire[T any](s *signal[T], v T) smol.Future[struct{}] {
	return smol.PollFn[struct{}](func(*smol.Context) (struct{}, bool) {
		s.Fire(v)
		return struct{}{}, true
	})
}

// yields returns a future that yields n times and is then ready with v.
func yields[T any](n int, v T) smol.Future[T] {
	left := n
	return smol.PollFn[T](func(cx *smol.Context) (T, bool) {
		if left == 0 {
			return v, true
		}
		left--
		cx.Waker().Wake()
		var zero T
		return zero, false
	})
}

// countdown is a future that is ready once Done has been called n times:
// a WaitGroup that a future can await.
type countdown struct {
	left atomic.Int64
	mu   sync.Mutex
	w    smol.Waker
}

func newCountdown(n int) *countdown {
	c := &countdown{}
	c.left.Store(int64(n))
	return c
}

func (c *countdown) Done() {
	if c.left.Add(-1) == 0 {
		c.mu.Lock()
		w := c.w
		c.mu.Unlock()
		if w != nil {
			w.Wake()
		}
	}
}

func (c *countdown) Poll(cx *smol.Context) (struct{}, bool) {
	if c.left.Load() <= 0 {
		return struct{}{}, true
	}
	c.mu.Lock()
	c.w = cx.Waker()
	c.mu.Unlock()
	// Done decrements before it reads the waker: either it sees the waker
	// stored above or this load sees zero.
	if c.left.Load() <= 0 {
		return struct{}{}, true
	}
	return struct{}{}, false
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline. The deadline only turns a hang into a failure; it is not a
// timing assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// hangGuard returns a future that is ready with an error if ctx ends first:
// raced against a future under test, it turns a hang into a failure.
func hangGuard() (smol.Future[error], context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	return smol.ContextDone(ctx), cancel
}

// checkLeaks makes the test fail if goroutines started during it are still
// running when it ends. Goroutines that existed before (such as idle
// blocking-pool workers of earlier tests) are ignored, and so are the global
// executor's workers and the reactor's fallback goroutine, which start with
// whichever test first needs them; extra options ignore more.
func checkLeaks(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	opts = append(opts, goleak.IgnoreCurrent(), smol.IgnoreGlobal, smol.IgnoreReactor)
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// goid returns the calling goroutine's id, parsed from its stack header,
// to tell which worker polled a task.
func goid() uint64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s := strings.TrimPrefix(string(buf[:n]), "goroutine ")
	s = s[:strings.IndexByte(s, ' ')]
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// runIn starts Run(ex, f) on a new goroutine and returns a channel that
// receives its error.
func runIn[T any](ex smol.Runner, f smol.Future[T]) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := smol.Run(ex, f)
		done <- err
	}()
	return done
}

// mustPanic calls fn and returns the value it panicked with, failing the
// test if it did not panic.
func mustPanic(t testing.TB, fn func()) (v any) {
	t.Helper()
	defer func() { v = recover() }()
	fn()
	t.Fatalf("did not panic")
	return nil
}

func TestHangDetectorCatchesLostWake(t *testing.T) {
	// A future that reports pending once without arranging a wake: the bug
	// the poll contract forbids.
	var polls int
	buggy := smol.PollFn[int](func(*smol.Context) (int, bool) {
		polls++
		return polls, polls > 1
	})
	var rec hangRecorder
	complete[int](&rec, buggy)
	if !strings.Contains(rec.msg, "hang") {
		t.Fatalf("the lost wake went unnoticed: %q", rec.msg)
	}
	// The same future with the wake arranged passes.
	polls = 0
	fixed := smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls++
		if polls == 1 {
			cx.Waker().Wake()
		}
		return polls, polls > 1
	})
	if got := complete(t, fixed); got != 2 {
		t.Fatalf("got %d, want 2", got)
	}
}

func TestHangDetectorCatchesLivelock(t *testing.T) {
	forever := smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		cx.Waker().Wake()
		return 0, false
	})
	var rec hangRecorder
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	driveOn[int](&rec, ex, forever, 1000)
	if !strings.Contains(rec.msg, "livelock") {
		t.Fatalf("the livelock went unnoticed: %q", rec.msg)
	}
}
