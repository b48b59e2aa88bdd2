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
	if got, err := smol.BlockOn(task); err != nil || got != "global" {
		t.Fatalf("got (%q, %v)", got, err)
	}
	// Spawn from inside a task on the global executor.
	outer := smol.Spawn(smol.Then(smol.YieldNow(), func(struct{}) smol.Future[int] {
		return smol.Spawn(smol.Ready(5))
	}))
	if got, err := smol.BlockOn(outer); err != nil || got != 5 {
		t.Fatalf("got (%d, %v)", got, err)
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
		smol.Spawn(smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
			cd.Done()
			return struct{}{}, true, nil
		})).Detach()
	}
	guard, cancel := hangGuard()
	defer cancel()
	if e, err := smol.BlockOn(smol.Select(cd, guard)); err != nil || e.Index != 0 {
		t.Fatalf("%d tasks on the global executor never ran", cd.left.Load())
	}
}
