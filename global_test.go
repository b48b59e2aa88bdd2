package smol_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/smolgo/smol"
)

func TestSpawnOnGlobalExecutor(t *testing.T) {
	checkLeaks(t)
	task := smol.Spawn(yields(3, "global"))
	if got := smol.BlockOn(smol.Future[string](task)); got != "global" {
		t.Fatalf("got %q", got)
	}
	// Spawn from inside a task on the global executor.
	outer := smol.Spawn(smol.Then(smol.YieldNow(), func(struct{}) smol.Future[int] {
		return smol.Spawn(smol.Ready(5))
	}))
	if got := smol.BlockOn(smol.Future[int](outer)); got != 5 {
		t.Fatalf("got %d", got)
	}
	if smol.GlobalExecutor() != smol.GlobalExecutor() {
		t.Fatal("GlobalExecutor returned two executors")
	}
}

func TestSetGlobalWorkers(t *testing.T) {
	// TestMain set the count to 2 before the start, and 2 workers run.
	smol.GlobalExecutor()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	if n := strings.Count(string(buf), "smol.globalWorker("); n != 2 {
		t.Fatalf("%d global workers, want the 2 that SetGlobalWorkers asked for", n)
	}
	// Now it is too late to change the count.
	if err := smol.SetGlobalWorkers(4); err == nil {
		t.Fatal("SetGlobalWorkers after the global executor started: no error")
	}
	for _, n := range []int{0, -1} {
		if err := smol.SetGlobalWorkers(n); err == nil {
			t.Fatalf("SetGlobalWorkers(%d): no error", n)
		}
	}
}

func TestGlobalExecutorManyTasks(t *testing.T) {
	const n = 10_000
	cd := newCountdown(n)
	for range n {
		smol.Spawn(smol.PollFn[struct{}](func(*smol.Context) (struct{}, bool) {
			cd.Done()
			return struct{}{}, true
		})).Detach()
	}
	guard, cancel := hangGuard()
	defer cancel()
	if e := smol.BlockOn(smol.Select(smol.Future[struct{}](cd), guard)); e.Index != 0 {
		t.Fatalf("%d tasks on the global executor never ran", cd.left.Load())
	}
}
