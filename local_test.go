package smol_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
)

// A script is a task written as a list of steps; a step returns false to
// report pending (having arranged a wake) and is called again later.
type step func(cx *smol.Context) bool

func script(steps ...step) smol.Future[struct{}] {
	i := 0
	return smol.PollFn[struct{}](func(cx *smol.Context) (struct{}, bool) {
		for ; i < len(steps); i++ {
			if !steps[i](cx) {
				return struct{}{}, false
			}
		}
		return struct{}{}, true
	})
}

func await[T any](f smol.Future[T]) step {
	return func(cx *smol.Context) bool { _, ok := f.Poll(cx); return ok }
}

func yieldStep() step { return await(smol.YieldNow()) }

func doStep(fn func()) step { return func(*smol.Context) bool { fn(); return true } }

// fifoProgram spawns tasks that log, yield, wake each other and spawn more,
// and returns the log once the executor is idle.
func fifoProgram(t *testing.T) []string {
	var log []string
	logStep := func(s string) step { return doStep(func() { log = append(log, s) }) }
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sigA, sigB := newSignal[int](), newSignal[int]()
	smol.SpawnOn(ex, script(logStep("A0"), yieldStep(), logStep("A1"),
		doStep(func() { sigB.Fire(0) }), await(smol.Future[int](sigA)), logStep("A2")))
	smol.SpawnOn(ex, script(logStep("B0"), await(smol.Future[int](sigB)), logStep("B1"),
		doStep(func() { smol.SpawnOn(ex, script(logStep("D"))) }), yieldStep(),
		logStep("B2"), doStep(func() { sigA.Fire(0) })))
	smol.SpawnOn(ex, script(logStep("C0"), yieldStep(), logStep("C1"), yieldStep(), logStep("C2")))
	for ex.TryTick() {
	}
	return log
}

func TestLocalExecutorFIFO(t *testing.T) {
	// Queue after each step, first woken first run:
	//   A0 yield          [B C A]
	//   B0 waits on sigB  [C A]
	//   C0 yield          [A C]
	//   A1 wakes B        [C B], A waits on sigA
	//   C1 yield          [B C]
	//   B1 spawns D       [C D], B yields [C D B]
	//   C2 done           [D B]
	//   D  done           [B]
	//   B2 wakes A        [A]
	//   A2 done
	want := []string{"A0", "B0", "C0", "A1", "C1", "B1", "C2", "D", "B2", "A2"}
	first := fifoProgram(t)
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("order %v, want %v", first, want)
	}
	for range 3 {
		if again := fifoProgram(t); !reflect.DeepEqual(again, first) {
			t.Fatalf("a second run gave %v, the first %v", again, first)
		}
	}
}

func TestLocalExecutorWakeOrderFromOutside(t *testing.T) {
	// Wakes from outside the executor also run in the order they came.
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var log []int
	sigs := make([]*signal[int], 5)
	for i := range sigs {
		sigs[i] = newSignal[int]()
		smol.SpawnOn(ex, smol.Map(smol.Future[int](sigs[i]), func(n int) int { log = append(log, n); return n }))
	}
	for ex.TryTick() {
	}
	for _, i := range []int{3, 1, 4, 0, 2} {
		sigs[i].Fire(i)
	}
	for ex.TryTick() {
	}
	if want := []int{3, 1, 4, 0, 2}; !reflect.DeepEqual(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}

func TestTryTick(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	if ex.TryTick() {
		t.Fatal("TryTick on an empty executor ran something")
	}
	a := smol.SpawnOn(ex, yields(1, "a"))
	b := smol.SpawnOn(ex, smol.Ready("b"))
	if !ex.TryTick() || a.IsFinished() {
		t.Fatal("first tick: a should have run and yielded")
	}
	if !ex.TryTick() || !b.IsFinished() {
		t.Fatal("second tick: b should have finished")
	}
	if !ex.TryTick() || !a.IsFinished() {
		t.Fatal("third tick: a should have finished")
	}
	if ex.TryTick() {
		t.Fatal("TryTick ran something after all tasks finished")
	}
}

func TestTickWaitsForWork(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, smol.Future[int](sig))
	if err := ex.Tick(); err != nil {
		t.Fatal(err)
	}
	// Tick parks until the wake from another goroutine queues the task.
	done := make(chan error)
	go func() { done <- ex.Tick() }()
	sig.Fire(8)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, ok := task.Poll(noop); !ok || v != 8 {
		t.Fatalf("got (%d, %v)", v, ok)
	}
	// A Tick parked on an empty executor returns ErrClosed on Close.
	go func() { done <- ex.Tick() }()
	ex.Close()
	if err := <-done; err != smol.ErrClosed {
		t.Fatalf("Tick after Close: %v, want ErrClosed", err)
	}
	if err := ex.Tick(); err != smol.ErrClosed {
		t.Fatalf("Tick on a closed executor: %v", err)
	}
}

func TestRunReturnsMainValue(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// Tasks still pending when main is ready stay on the executor.
	sig := newSignal[int]()
	pending := smol.SpawnOn(ex, smol.Future[int](sig))
	if got, err := smol.Run(ex, yields(3, "main")); err != nil || got != "main" {
		t.Fatalf("Run: (%q, %v)", got, err)
	}
	sig.Fire(2)
	if got, err := smol.Run(ex, smol.Future[int](pending)); err != nil || got != 2 {
		t.Fatalf("second Run: (%d, %v)", got, err)
	}
}

func TestRunMainWokenFromOutside(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sig := newSignal[string]()
	go sig.Fire("outside")
	if got, err := smol.Run(ex, smol.Future[string](sig)); err != nil || got != "outside" {
		t.Fatalf("Run: (%q, %v)", got, err)
	}
}

func TestYieldNowInRunMainLetsTasksRun(t *testing.T) {
	// The main future of Run yields: every task that was runnable at that
	// moment runs before main resumes, as YieldNow promises.
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var ran atomic.Int32
	for range 3 {
		smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) { ran.Add(1); return 0, true }))
	}
	got, err := smol.Run(ex, smol.Then(smol.YieldNow(), func(struct{}) smol.Future[int32] {
		return smol.Ready(ran.Load())
	}))
	if err != nil || got != 3 {
		t.Fatalf("main resumed after %d of 3 runnable tasks ran (err %v)", got, err)
	}
}

const misuse = "LocalExecutor"

func TestLocalExecutorReentrantTickPanics(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// A task that drives its own executor from inside its poll.
	task := smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) {
		ex.TryTick()
		return 0, true
	}))
	for ex.TryTick() {
	}
	v := mustPanic(t, func() { task.Poll(noop) })
	pe, ok := v.(*smol.PanicError)
	if !ok || !strings.Contains(fmt.Sprint(pe.Value), misuse) {
		t.Fatalf("re-entrant TryTick: task panicked with %#v", v)
	}
	// Run inside a task is caught the same way.
	task2 := smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) {
		smol.Run(ex, smol.Ready(0))
		return 0, true
	}))
	for ex.TryTick() {
	}
	if pe, ok := mustPanic(t, func() { task2.Poll(noop) }).(*smol.PanicError); !ok || !strings.Contains(fmt.Sprint(pe.Value), misuse) {
		t.Fatal("re-entrant Run not detected")
	}
	// The executor works normally afterwards.
	if got, err := smol.Run(ex, yields(1, 1)); err != nil || got != 1 {
		t.Fatalf("Run after misuse: (%d, %v)", got, err)
	}
}

func TestLocalExecutorTwoGoroutinesPanics(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	entered := make(chan struct{})
	release := make(chan struct{})
	smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) {
		close(entered)
		<-release
		return 0, true
	}))
	done := make(chan error)
	go func() {
		_, err := smol.Run(ex, smol.YieldNow())
		done <- err
	}()
	// While a task of ex is being polled by Run on the other goroutine,
	// driving ex from this one is detected.
	<-entered
	for name, drive := range map[string]func(){
		"TryTick": func() { ex.TryTick() },
		"Tick":    func() { ex.Tick() },
		"Run":     func() { smol.Run(ex, smol.Ready(0)) },
	} {
		v := mustPanic(t, drive)
		if !strings.Contains(fmt.Sprint(v), misuse) {
			t.Errorf("%s from a second goroutine panicked with %v", name, v)
		}
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Spawning and waking from another goroutine is allowed.
	if ex.TryTick() {
		t.Fatal("unexpected task left")
	}
}

func TestLocalExecutorClose(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	var polls atomic.Int32
	idleF, idleDropped := dropTracker(&polls)
	idle := smol.SpawnOn(ex, idleF)
	ex.TryTick()
	queuedF, queuedDropped := dropTracker(&polls)
	queued := smol.SpawnOn(ex, queuedF)
	// An awaiter on another executor, woken by the Close.
	other := smol.NewLocalExecutor()
	defer other.Close()
	awaiter := smol.SpawnOn(other, smol.Future[int](idle))
	other.TryTick()

	ex.Close()
	for name, task := range map[string]*smol.Task[int]{"idle": idle, "queued": queued} {
		if !task.IsFinished() || task.Err() != smol.ErrClosed {
			t.Errorf("%s task after Close: finished %v, err %v", name, task.IsFinished(), task.Err())
		}
	}
	if !idleDropped() || !queuedDropped() {
		t.Error("Close did not drop the futures of its tasks")
	}
	if polls.Load() != 1 {
		t.Errorf("futures polled %d times, want 1", polls.Load())
	}
	if !other.TryTick() || !awaiter.IsFinished() {
		t.Fatal("the awaiter of a task canceled by Close was not woken")
	}
	if v, _ := awaiter.Poll(noop); v != 0 {
		t.Fatalf("awaiter got %d", v)
	}
	// Later spawns and runs are refused.
	late := smol.SpawnOn(ex, smol.Ready(1))
	if !late.IsFinished() || late.Err() != smol.ErrClosed {
		t.Fatalf("spawn after Close: finished %v, err %v", late.IsFinished(), late.Err())
	}
	if v, ok := late.Poll(noop); !ok || v != 0 {
		t.Fatalf("handle of a refused spawn: (%d, %v)", v, ok)
	}
	if _, err := smol.Run(ex, smol.Ready(1)); err != smol.ErrClosed {
		t.Fatalf("Run after Close: %v", err)
	}
	if ex.TryTick() {
		t.Fatal("TryTick ran a task after Close")
	}
	ex.Close() // twice is harmless
}

func TestLocalExecutorCloseEndsRun(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	sig := newSignal[int]()
	task := smol.SpawnOn(ex, smol.Future[int](sig))
	done := runIn(ex, smol.Never[int]())
	waitFor(t, "the task's first poll", func() bool { return sig.Polls() == 1 })
	ex.Close()
	if err := <-done; err != smol.ErrClosed {
		t.Fatalf("Run on a closed executor: %v, want ErrClosed", err)
	}
	if task.Err() != smol.ErrClosed {
		t.Fatalf("task: %v", task.Err())
	}
}

func TestLocalExecutorCloseFromTask(t *testing.T) {
	ex := smol.NewLocalExecutor()
	pending := smol.SpawnOn(ex, smol.Never[int]())
	var self *smol.Task[int]
	self = smol.SpawnOn(ex, smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		ex.Close()
		if self.Err() != smol.ErrClosed {
			t.Errorf("the closing task's Err during its poll: %v", self.Err())
		}
		return 5, true
	}))
	after := smol.SpawnOn(ex, smol.Ready(1))
	_, err := smol.Run(ex, smol.Never[int]())
	if !errors.Is(err, smol.ErrClosed) {
		t.Fatalf("Run: %v, want ErrClosed", err)
	}
	for name, task := range map[string]*smol.Task[int]{"pending": pending, "closer": self, "queued after": after} {
		if task.Err() != smol.ErrClosed {
			t.Errorf("%s: Err() = %v, want ErrClosed", name, task.Err())
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	if smol.ErrCanceled == smol.ErrClosed || smol.ErrCanceled.Error() == "" || smol.ErrClosed.Error() == "" {
		t.Fatal("ErrCanceled and ErrClosed must be distinct, non-empty errors")
	}
}
