// Package coromark records which executors have run coroutine tasks, for
// smolnet's completion path (smolnet/uring_linux.go).
//
// That path locks the goroutine that drives a LocalExecutor to its OS
// thread (runtime.LockOSThread), because its io_uring ring accepts
// submissions from one thread only. The Go runtime requires a coroutine
// (iter.Pull, on which package coro is built) to be switched to with the
// same thread locking as when it was created: a goroutine locked after a
// coroutine was made, or inside one, crashes at the next switch ("coro: OS
// thread locking must match locking at coroutine creation"). So package
// coro marks an executor's driver before it makes its first coroutine, and
// smolnet does not put a ring on an executor that is marked. Coroutines
// made after the ring exist are made with the goroutine already locked,
// which is allowed, since the lock then never changes.
package coromark

import (
	"sync"
	"weak"

	"github.com/smolgo/smol"
)

// marked holds the drivers of executors that have made coroutines. The
// keys are weak, so that a marked executor can still be collected; the
// dead entries are dropped by Mark.
var (
	mu     sync.Mutex
	marked = map[weak.Pointer[smol.Driver]]struct{}{}
)

// Mark records that a coroutine is about to be made by a task polled with
// driver d. It is called once per coroutine task.
func Mark(d *smol.Driver) {
	if d == nil || d.LocalExecutor() == nil {
		return
	}
	k := weak.Make(d)
	mu.Lock()
	defer mu.Unlock()
	if _, ok := marked[k]; ok {
		return
	}
	for old := range marked {
		if old.Value() == nil {
			delete(marked, old)
		}
	}
	marked[k] = struct{}{}
}

// Marked reports whether Mark was called with d.
func Marked(d *smol.Driver) bool {
	mu.Lock()
	defer mu.Unlock()
	_, ok := marked[weak.Make(d)]
	return ok
}
