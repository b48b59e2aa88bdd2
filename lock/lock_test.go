package lock_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
)

func TestMain(m *testing.M) {
	// ExampleOnceCell_GetOrInit uses the default blocking pool, whose idle
	// goroutines linger for 500ms by design.
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/smolgo/smol/blocking.(*Pool).work"))
}

// counter is a waker that counts its wakes.
type counter struct{ n atomic.Int32 }

func (c *counter) Wake() { c.n.Add(1) }

func (c *counter) take() int32 { return c.n.Swap(0) }

func cx(w smol.Waker) *smol.Context { return smol.NewContext(w) }

var noop = smol.NewContext(smol.NoopWaker)

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", name)
		}
	}()
	f()
}

// runTasks spawns fs on a two-worker executor and runs them to completion.
func runTasks(t *testing.T, fs ...smol.Future[struct{}]) {
	t.Helper()
	ex := smol.NewExecutor()
	var tasks []smol.Future[struct{}]
	for _, f := range fs {
		tasks = append(tasks, smol.SpawnOn(ex, f))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); smol.Run(ex, smol.Never[struct{}]()) }()
	if _, err := smol.Run(ex, smol.JoinAll(tasks)); err != nil {
		t.Fatal(err)
	}
	ex.Close()
	wg.Wait()
}

// runLocal runs fs to completion as tasks of a single-threaded executor.
func runLocal(t *testing.T, fs ...smol.Future[struct{}]) {
	t.Helper()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var tasks []smol.Future[struct{}]
	for _, f := range fs {
		tasks = append(tasks, smol.SpawnOn(ex, f))
	}
	if _, err := smol.Run(ex, smol.JoinAll(tasks)); err != nil {
		t.Fatal(err)
	}
}

// steps is a future written as a list of steps: each step is polled until
// it is ready, then the next one runs. It stands in for straight-line async
// code in tests.
type steps struct {
	fs  []func() smol.Future[struct{}]
	cur smol.Future[struct{}]
	i   int
}

func (s *steps) Poll(cx *smol.Context) (struct{}, bool, error) {
	for s.i < len(s.fs) {
		if s.cur == nil {
			s.cur = s.fs[s.i]()
			if s.cur == nil { // a plain action, no waiting
				s.i++
				continue
			}
		}
		if _, ok, _ := s.cur.Poll(cx); !ok {
			return struct{}{}, false, nil
		}
		s.cur = nil
		s.i++
	}
	return struct{}{}, true, nil
}

func do(f func()) func() smol.Future[struct{}] {
	return func() smol.Future[struct{}] { f(); return nil }
}

func await[T any](f func() smol.Future[T]) func() smol.Future[struct{}] {
	return func() smol.Future[struct{}] {
		return smol.Map(f(), func(T) struct{} { return struct{}{} })
	}
}

func yield() func() smol.Future[struct{}] {
	return func() smol.Future[struct{}] { return smol.YieldNow() }
}
