package smol

import (
	"errors"

	"github.com/smolgo/smol/internal/env"
	"runtime"
	"sync"
	"sync/atomic"
)

var global struct {
	mu      sync.Mutex // guards workers and the start
	workers int        // 0: decided at start
	ex      atomic.Pointer[Executor]
}

// SetGlobalWorkers sets how many goroutines run the global executor. It
// must be called before the first [Spawn] or [GlobalExecutor]; it returns an
// error if n < 1 or the global executor has already started. Without it the
// count is the environment variable SMOL_THREADS if that holds a positive
// integer, else GOMAXPROCS.
func SetGlobalWorkers(n int) error {
	if n < 1 {
		return errors.New("smol: SetGlobalWorkers: want n >= 1")
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	if global.ex.Load() != nil {
		return errors.New("smol: SetGlobalWorkers: the global executor has already started")
	}
	global.workers = n
	return nil
}

// GlobalExecutor returns the executor behind [Spawn], starting its workers
// on first use. It is never closed; detached tasks that panic crash the
// program.
func GlobalExecutor() *Executor {
	// An atomic load on the fast path: Spawn takes no lock.
	if ex := global.ex.Load(); ex != nil {
		return ex
	}
	global.mu.Lock()
	defer global.mu.Unlock()
	if ex := global.ex.Load(); ex != nil {
		return ex
	}
	n := global.workers
	if n == 0 {
		n = env.Int("SMOL_THREADS", runtime.GOMAXPROCS(0), 1<<16)
	}
	ex := NewExecutor()
	for range n {
		go globalWorker(ex)
	}
	global.ex.Store(ex)
	return ex
}

// globalWorker runs the global executor for the life of the process. It is
// a named function so that its goroutines are recognizable in stack traces
// and leak checkers (goleak.IgnoreAnyFunction("github.com/smolgo/smol.globalWorker")).
func globalWorker(ex *Executor) { Run(ex, Never[struct{}]()) }

// Spawn starts f as a task on the global executor; see [SpawnOn]. The global
// executor suits programs and tests that need no control over where tasks
// run; code that wants to close or drive its executor creates its own.
func Spawn[T any, F Future[T]](f F) *Task[T] { return SpawnOn[T](GlobalExecutor(), f) }
