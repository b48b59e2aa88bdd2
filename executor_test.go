package smol_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
)

// counted is a trivial task: it adds one to n and tells cd it is done.
type counted struct {
	n  *atomic.Int64
	cd *countdown
}

func (c counted) Poll(*smol.Context) (struct{}, bool, error) {
	c.n.Add(1)
	c.cd.Done()
	return struct{}{}, true, nil
}

// startWorkers starts n goroutines running ex. The returned stop function
// ends them, by their main futures if want is nil, else by the executor's
// Close that the caller did (then it does not touch the main futures, which
// could otherwise win the race with Close); it waits for them and checks
// that each Run returned want.
func startWorkers(t *testing.T, ex *smol.Executor, n int) (stop func(want error)) {
	t.Helper()
	sig := make([]*signal[struct{}], n)
	done := make([]<-chan error, n)
	for i := range n {
		sig[i] = newSignal[struct{}]()
		done[i] = runIn(ex, sig[i])
	}
	return func(want error) {
		t.Helper()
		for i := range n {
			if want == nil {
				sig[i].Fire(struct{}{})
			}
			if err := <-done[i]; err != want {
				t.Errorf("worker %d: Run returned %v, want %v", i, err, want)
			}
		}
	}
}

// millionRuns counts runs of TestExecutorMillionTasks in this process.
var millionRuns atomic.Int32

func TestExecutorMillionTasks(t *testing.T) {
	checkLeaks(t)
	// A million tasks take about 14s under the race detector on two cores;
	// repeated runs (-count) there use a tenth of that.
	n := 1_000_000
	if raceEnabled && millionRuns.Add(1) > 1 {
		n = 100_000
	}
	ex := smol.NewExecutor()
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	var ran atomic.Int64
	cd := newCountdown(n)
	// Half the tasks are spawned from outside, half by tasks running on
	// the workers, so both spawn paths are counted.
	const spawners = 100
	for range n / 2 {
		smol.SpawnOn(ex, counted{&ran, cd})
	}
	for range spawners {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
			for range n / 2 / spawners {
				smol.SpawnOn(ex, counted{&ran, cd})
			}
			return struct{}{}, true, nil
		}))
	}
	guard, cancel := hangGuard()
	defer cancel()
	if e, err := smol.BlockOn(smol.Select(cd, guard)); err != nil || e.Index != 0 {
		t.Fatalf("only %d of %d tasks ran", ran.Load(), n)
	}
	stop(nil)
	if got := ran.Load(); got != int64(n) {
		t.Fatalf("%d tasks ran, want %d", got, n)
	}
}

func TestExecutorManyRunCallers(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan string, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each caller's main future awaits tasks that any worker may run.
			var fs []smol.Future[int]
			for j := range 50 {
				fs = append(fs, smol.SpawnOn(ex, yields(j%5, i*100+j)))
			}
			got, err := smol.Run(ex, smol.JoinAll(fs))
			if err != nil {
				errs <- err.Error()
				return
			}
			for j, v := range got {
				if v != i*100+j {
					errs <- "wrong value"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestExecutorTasksSpawnedBeforeWorkers(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	var fs []smol.Future[int]
	for i := range 10 {
		fs = append(fs, smol.SpawnOn(ex, yields(2, i)))
	}
	got, err := smol.Run(ex, smol.JoinAll(fs))
	if err != nil || len(got) != 10 || got[9] != 9 {
		t.Fatalf("Run: (%v, %v)", got, err)
	}
}

func TestExecutorSpawnTree(t *testing.T) {
	// Tasks spawn children from inside their polls, two per level.
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	const depth = 12
	cd := newCountdown(1<<(depth+1) - 1)
	var spawn func(level int)
	spawn = func(level int) {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
			if level < depth {
				spawn(level + 1)
				spawn(level + 1)
			}
			cd.Done()
			return struct{}{}, true, nil
		})).Detach()
	}
	spawn(0)
	guard, cancel := hangGuard()
	defer cancel()
	if e, err := smol.BlockOn(smol.Select(cd, guard)); err != nil || e.Index != 0 {
		t.Fatalf("%d tasks of the tree never ran", cd.left.Load())
	}
	stop(nil)
}

func TestExecutorClosePending(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	stop := startWorkers(t, ex, 2)
	var tasks []*smol.Task[int]
	var polls atomic.Int32
	var dropped []func() bool
	// Idle tasks, tasks awaiting other tasks, and tasks that keep yielding
	// (so some are queued or running when Close comes).
	for i := range 100 {
		switch i % 3 {
		case 0:
			f, d := dropTracker(&polls)
			dropped = append(dropped, d)
			tasks = append(tasks, smol.SpawnOn(ex, f))
		case 1:
			tasks = append(tasks, smol.SpawnOn(ex, tasks[i-1]))
		default:
			tasks = append(tasks, smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
				cx.Waker().Wake()
				return 0, false, nil
			})))
		}
	}
	waitFor(t, "every idle task to be polled", func() bool { return polls.Load() == 34 })
	ex.Close()
	stop(smol.ErrClosed)
	for i, task := range tasks {
		if !task.IsFinished() {
			t.Fatalf("task %d not finished after Close", i)
		}
		if err := taskErr(t, task); err != smol.ErrClosed {
			t.Fatalf("task %d after Close: err %v, want ErrClosed", i, err)
		}
	}
	for i, d := range dropped {
		if !d() {
			t.Fatalf("idle task %d still holds its future after Close", i)
		}
	}
	if _, err := smol.Run(ex, smol.Ready(1)); err != smol.ErrClosed {
		t.Fatalf("Run after Close: %v", err)
	}
	late := smol.SpawnOn(ex, smol.Ready(1))
	if !late.IsFinished() {
		t.Fatal("a task spawned after Close is not finished")
	}
	if v, err := outcome(t, late); err != smol.ErrClosed || v != 0 {
		t.Fatalf("spawn after Close: (%d, %v), want ErrClosed", v, err)
	}
	ex.Close() // twice is harmless
}

func TestExecutorCloseFromTask(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	other := startWorkers(t, ex, 1)
	pending := smol.SpawnOn(ex, smol.Never[int]())
	smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
		ex.Close()
		return 0, true, nil
	}))
	if _, err := smol.Run(ex, smol.Never[int]()); err != smol.ErrClosed {
		t.Fatalf("Run: %v, want ErrClosed", err)
	}
	other(smol.ErrClosed)
	if err := taskErr(t, pending); err != smol.ErrClosed {
		t.Fatalf("pending task: %v", err)
	}
}

func TestExecutorLeavingWorkerHandsOffTasks(t *testing.T) {
	// Tasks that keep yielding sit in the local queue of the worker that
	// polls them. When that worker's Run returns, its queued tasks must go
	// to the remaining worker; stranded tasks would hang the test.
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	const tasks, steps = 200, 100
	var total atomic.Int64
	leave := newSignal[struct{}]()
	cd := newCountdown(tasks)
	for range tasks {
		left := steps
		smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			if total.Add(1) == tasks*steps/4 {
				leave.Fire(struct{}{})
			}
			if left--; left == 0 {
				cd.Done()
				return struct{}{}, true, nil
			}
			cx.Waker().Wake()
			return struct{}{}, false, nil
		})).Detach()
	}
	// Worker A runs alone until a quarter of the work is done, then leaves
	// with its local queue still full of yielded tasks.
	doneA := runIn(ex, leave)
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if cd.left.Load() == 0 {
		t.Fatal("all tasks finished before the worker left; the test proves nothing")
	}
	guard, cancel := hangGuard()
	defer cancel()
	e, err := smol.Run(ex, smol.Select(cd, guard))
	if err != nil || e.Index != 0 {
		t.Fatalf("%d tasks stranded after their worker left (Run: %v)", cd.left.Load(), err)
	}
	if total.Load() != tasks*steps {
		t.Fatalf("%d polls, want %d", total.Load(), tasks*steps)
	}
}

func TestExecutorStealing(t *testing.T) {
	// Worker A polls every task once, so all of them sit in A's local queue
	// (a task woken during its own poll is queued locally). Worker B starts
	// after that: the only way it can poll a task is to steal it from A.
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	const tasks = 64
	var mu sync.Mutex
	pollers := make(map[uint64]int) // goroutine id -> polls
	firstPolls := 0
	var stopping atomic.Bool
	cd := newCountdown(tasks)
	for range tasks {
		first := true
		smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			mu.Lock()
			pollers[goid()]++
			if first {
				first = false
				firstPolls++
			}
			mu.Unlock()
			if stopping.Load() {
				cd.Done()
				return struct{}{}, true, nil
			}
			cx.Waker().Wake()
			return struct{}{}, false, nil
		})).Detach()
	}
	stopA := newSignal[struct{}]()
	doneA := runIn(ex, stopA)
	waitFor(t, "worker A to poll every task", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstPolls == tasks
	})
	mu.Lock()
	if len(pollers) != 1 {
		t.Fatalf("%d goroutines polled tasks with one worker", len(pollers))
	}
	var idA uint64
	for id := range pollers {
		idA = id
	}
	mu.Unlock()
	stopB := newSignal[struct{}]()
	doneB := runIn(ex, stopB)
	waitFor(t, "worker B to steal a task", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(pollers) > 1
	})
	stopping.Store(true)
	guard, cancel := hangGuard()
	defer cancel()
	if e, err := smol.BlockOn(smol.Select(cd, guard)); err != nil || e.Index != 0 {
		t.Fatal("tasks did not finish")
	}
	stopA.Fire(struct{}{})
	stopB.Fire(struct{}{})
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, n := range pollers {
		if id != idA {
			t.Logf("worker A polled %d times, worker B %d times", pollers[idA], n)
		}
	}
}

func TestExecutorGlobalQueueNotStarved(t *testing.T) {
	// One worker whose local queue is never empty: tasks that keep yielding.
	// A task spawned from outside goes to the global queue and must still
	// run while they yield.
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	var stopping atomic.Bool
	var busy sync.WaitGroup
	started := newCountdown(4)
	for range 4 {
		busy.Add(1)
		first := true
		smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			if first {
				first = false
				started.Done()
			}
			if stopping.Load() {
				busy.Done()
				return struct{}{}, true, nil
			}
			cx.Waker().Wake()
			return struct{}{}, false, nil
		})).Detach()
	}
	stop := newSignal[struct{}]()
	done := runIn(ex, stop)
	must(smol.BlockOn(started))
	late := smol.SpawnOn(ex, smol.Ready("ran"))
	guard, cancel := hangGuard()
	defer cancel()
	e, err := smol.BlockOn(smol.Select(late, guard))
	stopping.Store(true)
	busy.Wait()
	stop.Fire(struct{}{})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil || e.Index != 0 || e.A != "ran" {
		t.Fatalf("a task on the global queue starved behind a busy local queue (%v)", err)
	}
}

func TestExecutorYieldNowInRunMain(t *testing.T) {
	ex := smol.NewExecutor()
	defer ex.Close()
	var ran atomic.Int32
	for range 3 {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) { ran.Add(1); return 0, true, nil }))
	}
	got, err := smol.Run(ex, smol.Then(smol.YieldNow(), func(struct{}) smol.Future[int32] {
		return smol.Ready(ran.Load())
	}))
	if err != nil || got != 3 {
		t.Fatalf("main resumed after %d of 3 runnable tasks ran (err %v)", got, err)
	}
}

func TestExecutorCloseFromTaskStopsFirstPolls(t *testing.T) {
	// A worker holds tasks it took from the global queue (one running, two
	// in its local queue) when the running one closes the executor. The
	// two were never polled; Close cancels them, and no worker may give
	// them a first poll afterwards.
	checkLeaks(t)
	ex := smol.NewExecutor()
	var mainW atomic.Pointer[smol.Waker]
	var woken atomic.Bool
	main := smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		if woken.Load() {
			return 0, false, nil
		}
		w := cx.Waker()
		mainW.Store(&w)
		return 0, false, nil
	})
	done := runIn(ex, main)
	for mainW.Load() == nil {
		runtime.Gosched()
	}
	var late atomic.Int32
	closer := smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
		ex.Close()
		return 7, true, nil
	}))
	var rest []*smol.Task[int]
	for range 2 {
		rest = append(rest, smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) {
			late.Add(1)
			return 0, true, nil
		})))
	}
	woken.Store(true)
	(*mainW.Load()).Wake()
	if err := <-done; err != smol.ErrClosed {
		t.Fatalf("Run: %v", err)
	}
	if !closer.IsFinished() {
		t.Fatal("the closing task did not finish")
	}
	// Its poll was in flight at the Close, and returned ready: the output
	// is kept.
	if v, err := outcome(t, closer); err != nil || v != 7 {
		t.Fatalf("the closing task: (%d, %v), want (7, nil)", v, err)
	}
	if n := late.Load(); n != 0 {
		t.Fatalf("%d tasks had their first poll after Close", n)
	}
	for i, task := range rest {
		if !task.IsFinished() {
			t.Fatalf("task %d not finished after Close", i)
		}
		if err := taskErr(t, task); err != smol.ErrClosed {
			t.Fatalf("task %d: %v, want ErrClosed", i, err)
		}
	}
}

// TestExecutorStartShutdown: Start runs n workers; Shutdown closes the
// executor and returns only once they have left it (and checkLeaks sees
// their goroutines gone at the end).
func TestExecutorStartShutdown(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	ex.Start(3)
	var fs []smol.Future[int]
	for i := range 200 {
		fs = append(fs, smol.SpawnOn(ex, smol.Map(smol.YieldNow(), func(struct{}) int { return i })))
	}
	vs, err := smol.BlockOn(smol.JoinAll(fs))
	if err != nil || len(vs) != 200 || vs[199] != 199 {
		t.Fatalf("JoinAll: %v %v", len(vs), err)
	}
	pending := smol.SpawnOn(ex, smol.Never[int]())
	ex.Shutdown()
	// The workers have left Run: none is still in the executor's loop (a
	// worker may still be returning from its goroutine's function, after
	// the Done that Shutdown waited for). Only Start's goroutines count:
	// the global executor's workers, which an earlier test (or an earlier
	// run, with -count) may have started, stay for the process.
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, "(*Executor).runMain") && strings.Contains(g, "(*Executor).work") {
			t.Fatalf("a worker of Start is still running the executor after Shutdown:\n%s", g)
		}
	}
	if _, err := smol.BlockOn(pending); err != smol.ErrClosed {
		t.Fatalf("a pending task after Shutdown: %v, want ErrClosed", err)
	}
	ex.Shutdown() // twice is harmless
	ex.Start(2)   // after Close: the workers return at once
	ex.Shutdown()
	mustPanic(t, func() { ex.Start(-1) })
}
