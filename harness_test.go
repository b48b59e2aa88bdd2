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
// finished, and returns f's value; a failure of f fails the test. If ex runs out of queued tasks while f is
// still pending, nothing on ex can wake it any more: f (or a future it
// awaits) returned pending without arranging a wake, or waits for something
// that never happens. That is reported as a hang instead of blocking the
// test forever. Wakes must come from ex's own tasks or from code that runs
// before mustComplete is called; a future woken from another goroutine
// needs BlockOn or Run instead.
func mustComplete[T any](t failer, ex *smol.LocalExecutor, f smol.Future[T]) T {
	t.Helper()
	v, err := driveOn(t, ex, f, maxTicks)
	if err != nil {
		t.Fatalf("the future failed: %v", err)
	}
	return v
}

// completeErr is mustComplete on a fresh LocalExecutor for a future that
// may fail: it returns f's value and error, and fails the test only on a
// hang.
func completeErr[T any](t failer, f smol.Future[T]) (T, error) {
	t.Helper()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	return driveOn(t, ex, f, maxTicks)
}

// driveOn runs f as mustComplete does, with a bound on the number of tasks
// run, and returns f's value and error.
func driveOn[T any](t failer, ex *smol.LocalExecutor, f smol.Future[T], limit int) (T, error) {
	t.Helper()
	task := smol.SpawnOn(ex, f)
	for n := 0; !task.IsFinished(); n++ {
		if n == limit {
			t.Fatalf("livelock: %d tasks run and the future is still pending", n)
			return *new(T), nil
		}
		if !ex.TryTick() {
			t.Fatalf("hang: the executor is idle but the future is pending, and nothing can wake it " +
				"(a Poll returned pending without arranging a wake)")
			return *new(T), nil
		}
	}
	v, ok, err := task.Poll(smol.NewContext(smol.NoopWaker))
	if !ok {
		t.Fatalf("the task is finished but its handle is pending")
	}
	return v, err
}

// complete is mustComplete on a fresh LocalExecutor.
func complete[T any](t failer, f smol.Future[T]) T {
	t.Helper()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	return mustComplete(t, ex, f)
}

// must returns v, panicking if err is not nil: for results that a test
// knows cannot fail (the package's own tests have the same helper).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// outcome returns what awaiting a finished task gives: its value and
// error. It fails the test if the task is not finished, since then the
// handle would be pending.
func outcome[T any](t testing.TB, task *smol.Task[T]) (T, error) {
	t.Helper()
	if !task.IsFinished() {
		t.Fatalf("outcome: the task is not finished")
	}
	v, ok, err := task.Poll(smol.NewContext(smol.NoopWaker))
	if !ok {
		t.Fatalf("outcome: IsFinished is true but the handle is pending")
	}
	return v, err
}

// taskErr is the error of a finished task, as outcome reports it.
func taskErr[T any](t testing.TB, task *smol.Task[T]) error {
	t.Helper()
	_, err := outcome(t, task)
	return err
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

func (s *signal[T]) Poll(cx *smol.Context) (T, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	if s.fired {
		return s.v, true, nil
	}
	s.w = cx.Waker()
	var zero T
	return zero, false, nil
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
	return smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
		s.Fire(v)
		return struct{}{}, true, nil
	})
}

// yields returns a future that yields n times and is then ready with v.
func yields[T any](n int, v T) smol.Future[T] {
	left := n
	return smol.PollFn(func(cx *smol.Context) (T, bool, error) {
		if left == 0 {
			return v, true, nil
		}
		left--
		cx.Waker().Wake()
		var zero T
		return zero, false, nil
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

func (c *countdown) Poll(cx *smol.Context) (struct{}, bool, error) {
	if c.left.Load() <= 0 {
		return struct{}{}, true, nil
	}
	c.mu.Lock()
	c.w = cx.Waker()
	c.mu.Unlock()
	// Done decrements before it reads the waker: either it sees the waker
	// stored above or this load sees zero.
	if c.left.Load() <= 0 {
		return struct{}{}, true, nil
	}
	return struct{}{}, false, nil
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

// hangGuard returns a future that fails with context.DeadlineExceeded after
// a generous deadline: raced against a future under test (with Select, where
// it then makes Index 1 and the error non-nil), it turns a hang into a
// failure.
func hangGuard() (smol.Future[struct{}], context.CancelFunc) {
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
	buggy := smol.PollFn(func(*smol.Context) (int, bool, error) {
		polls++
		return polls, polls > 1, nil
	})
	var rec hangRecorder
	complete(&rec, buggy)
	if !strings.Contains(rec.msg, "hang") {
		t.Fatalf("the lost wake went unnoticed: %q", rec.msg)
	}
	// The same future with the wake arranged passes.
	polls = 0
	fixed := smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		polls++
		if polls == 1 {
			cx.Waker().Wake()
		}
		return polls, polls > 1, nil
	})
	if got := complete(t, fixed); got != 2 {
		t.Fatalf("got %d, want 2", got)
	}
}

func TestHangDetectorCatchesLivelock(t *testing.T) {
	forever := smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		cx.Waker().Wake()
		return 0, false, nil
	})
	var rec hangRecorder
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	driveOn(&rec, ex, forever, 1000)
	if !strings.Contains(rec.msg, "livelock") {
		t.Fatalf("the livelock went unnoticed: %q", rec.msg)
	}
}
