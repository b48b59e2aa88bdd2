package smol_test

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

// These tests repeat races between the runtime's goroutines many times:
// completion against Cancel, Detach and awaiting, Close against running
// workers. Each checks the outcome that the documentation promises.

func TestStressCancelRacesCompletion(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	completed, canceled := 0, 0
	for i := range 5000 {
		task := smol.SpawnOn(ex, yields(i%2, i))
		for range i % 8 {
			runtime.Gosched() // let the workers get further some of the time
		}
		task.Cancel()
		v, err := smol.BlockOn(task)
		switch err {
		case nil:
			// Completed first, or in a poll running at the Cancel: the
			// output is kept.
			completed++
			if v != i {
				t.Fatalf("a task that completed gave %d, want %d", v, i)
			}
		case smol.ErrCanceled:
			canceled++
			if v != 0 {
				t.Fatalf("a canceled task's handle gave (%d, %v)", v, err)
			}
		default:
			t.Fatalf("task %d: %v", i, err)
		}
		if !task.IsFinished() {
			t.Fatal("a task is not finished once its handle was ready")
		}
		// Awaiting again gives the same.
		if v2, err2 := smol.BlockOn(task); v2 != v || err2 != err {
			t.Fatalf("awaited twice: (%d, %v), then (%d, %v)", v, err, v2, err2)
		}
	}
	stop(nil)
	t.Logf("%d completed before Cancel, %d canceled", completed, canceled)
}

func TestStressDetachRacesPanic(t *testing.T) {
	// Detach and a panic completing on a worker race; the handler must see
	// each panic exactly once, from whichever side came second.
	checkLeaks(t)
	var handled atomic.Int64
	ex := smol.NewExecutor(smol.WithPanicHandler(func(*smol.PanicError) { handled.Add(1) }))
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	const n = 3000
	for range n {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) { panic("p") })).Detach()
	}
	waitFor(t, "every panic to reach the handler", func() bool { return handled.Load() >= n })
	stop(nil)
	if h := handled.Load(); h != n {
		t.Fatalf("handler called %d times for %d panics", h, n)
	}
}

func TestStressAwaitRacesCompletion(t *testing.T) {
	// The handle is polled from BlockOn while a worker completes the task:
	// the awaiter's waker and the completion must never miss each other.
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	for i := range 3000 {
		if got, err := smol.BlockOn(smol.SpawnOn(ex, yields(i%3, i))); err != nil || got != i {
			t.Fatalf("got (%d, %v), want %d", got, err, i)
		}
	}
	stop(nil)
}

func TestStressJoinAllWokenFromGoroutines(t *testing.T) {
	// Children of a JoinAll woken from many goroutines while the join is
	// being polled.
	checkLeaks(t)
	for _, name := range []string{"local", "executor"} {
		t.Run(name, func(t *testing.T) {
			for range 20 {
				var ex smol.Runner
				if name == "local" {
					e := smol.NewLocalExecutor()
					defer e.Close()
					ex = e
				} else {
					e := smol.NewExecutor()
					defer e.Close()
					ex = e
					go smol.Run(ex, smol.Never[struct{}]())
				}
				sigs := make([]*signal[int], 64)
				fs := make([]smol.Future[int], len(sigs))
				for i := range sigs {
					sigs[i] = newSignal[int]()
					fs[i] = sigs[i]
				}
				var wg sync.WaitGroup
				for i, s := range sigs {
					wg.Add(1)
					go func() { defer wg.Done(); s.Fire(i) }()
				}
				guard, cancel := hangGuard()
				e, err := smol.Run(ex, smol.Select(smol.SpawnOn(ex, smol.JoinAll(fs)), guard))
				cancel()
				wg.Wait()
				if err != nil || e.Index != 0 {
					t.Fatalf("a child's wake was lost (Run: %v)", err)
				}
				for i, v := range e.A {
					if v != i {
						t.Fatalf("results %v", e.A)
					}
				}
			}
		})
	}
}

func TestStressCloseRacesWorkers(t *testing.T) {
	// Executors closed while their workers poll, steal and park; every Run
	// must return, every task must end up finished, and no goroutine may
	// be left behind.
	checkLeaks(t)
	for range 100 {
		ex := smol.NewExecutor()
		var done []<-chan error
		for range 3 {
			done = append(done, runIn(ex, smol.Never[int]()))
		}
		var tasks []*smol.Task[int]
		for i := range 50 {
			tasks = append(tasks, smol.SpawnOn(ex, yields(i, i)))
		}
		ex.Close()
		for _, d := range done {
			if err := <-d; err != smol.ErrClosed {
				t.Fatalf("Run: %v", err)
			}
		}
		for i, task := range tasks {
			if !task.IsFinished() {
				t.Fatalf("task %d not finished after Close", i)
			}
			if v, err := outcome(t, task); err != nil && err != smol.ErrClosed || err == nil && v != i {
				t.Fatalf("task %d: (%d, %v)", i, v, err)
			}
		}
	}
}

func TestStressSpawnOnLocalFromGoroutines(t *testing.T) {
	// Other goroutines spawn on a LocalExecutor while Run parks and runs.
	checkLeaks(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	const spawners, each = 4, 500
	cd := newCountdown(spawners * each)
	var wg sync.WaitGroup
	for range spawners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
					cd.Done()
					return struct{}{}, true, nil
				})).Detach()
			}
		}()
	}
	guard, cancel := hangGuard()
	defer cancel()
	e, err := smol.Run(ex, smol.Select(cd, guard))
	wg.Wait()
	if err != nil || e.Index != 0 {
		t.Fatalf("%d spawned tasks never ran (Run: %v)", cd.left.Load(), err)
	}
}

func TestStressCloseRacesSpawnAndTick(t *testing.T) {
	// Goroutines spawn on an executor while it is driven and closed from a
	// third goroutine. A push may land after Close emptied the queue, or
	// while a driver holds the queue; once everyone has returned, every
	// task must be finished, none polled after being dropped, and no
	// second-driver panic raised.
	checkLeaks(t)
	for i := range 300 {
		local := i%2 == 0
		var ex closer
		var drive func(stop *atomic.Bool)
		if local {
			lx := smol.NewLocalExecutor()
			ex = lx
			drive = func(stop *atomic.Bool) {
				for !stop.Load() {
					if !lx.TryTick() {
						runtime.Gosched()
					}
				}
			}
		} else {
			ex = smol.NewExecutor()
			drive = func(stop *atomic.Bool) {
				if _, err := smol.Run(ex, smol.Never[int]()); err != smol.ErrClosed {
					t.Errorf("Run: %v", err)
				}
			}
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		var mu sync.Mutex
		var tasks []*smol.Task[int]
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 40 {
					task := smol.SpawnOn(ex, yields(j%3, j))
					mu.Lock()
					tasks = append(tasks, task)
					mu.Unlock()
				}
			}()
		}
		driven := make(chan struct{})
		go func() {
			defer close(driven)
			drive(&stop)
		}()
		for range i % 7 {
			runtime.Gosched()
		}
		ex.Close()
		wg.Wait()
		stop.Store(true)
		<-driven
		for k, task := range tasks {
			if !task.IsFinished() {
				t.Fatalf("round %d (local %v): task %d not finished after Close", i, local, k)
			}
			if err := taskErr(t, task); err != nil && err != smol.ErrClosed {
				t.Fatalf("task %d: %v", k, err)
			}
		}
	}
}

// TestStressCancelKeepsConcurrentOutput is the acceptance test of issue 16,
// item 2: a Cancel that races with a task completing must not lose what the
// task produced. Receivers on a channel are canceled while values are sent
// to it; once everything has settled, every value is accounted for exactly
// once, either as the output of a receiver that completed (its handle gives
// it with a nil error) or still queued in the channel. A receive that took
// a value in a poll that was running at the Cancel keeps it for the handle.
func TestStressCancelKeepsConcurrentOutput(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	const rounds, n = 200, 64
	completed, canceled := 0, 0
	for round := range rounds {
		tx, rx := channel.New[int](n)
		tasks := make([]*smol.Task[int], n)
		for i := range tasks {
			tasks[i] = smol.SpawnOn(ex, rx.Recv())
		}
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := tx.TrySend(i); err != nil {
					t.Errorf("TrySend: %v", err)
				}
				if (i+round)%4 == 0 {
					runtime.Gosched()
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range round % 5 {
				runtime.Gosched()
			}
			for i, task := range tasks {
				task.Cancel()
				if (i+round)%3 == 0 {
					runtime.Gosched()
				}
			}
		}()
		wg.Wait()
		waitFor(t, "every receiver to finish", func() bool {
			for _, task := range tasks {
				if !task.IsFinished() {
					return false
				}
			}
			return true
		})
		seen := make([]int, n)
		for i, task := range tasks {
			v, err := outcome(t, task)
			switch err {
			case nil:
				completed++
				seen[v]++
			case smol.ErrCanceled:
				canceled++
				if v != 0 {
					t.Fatalf("round %d: canceled receiver %d gave %d", round, i, v)
				}
			default:
				t.Fatalf("round %d: receiver %d: %v", round, i, err)
			}
		}
		for {
			v, err := rx.TryRecv()
			if err != nil {
				break
			}
			seen[v]++
		}
		for v, k := range seen {
			if k != 1 {
				t.Fatalf("round %d: value %d accounted for %d times, want once", round, v, k)
			}
		}
		tx.Close()
		rx.Close()
	}
	stop(nil)
	t.Logf("%d receivers completed, %d canceled", completed, canceled)
}

// TestStressDumpWhileRunning takes task dumps from another goroutine while
// two workers poll tasks that yield, receive from a channel and sleep, and
// while tasks are canceled: the stLocked protocol between dumps, runners,
// awaiters and cancels must hold under the race detector, and no dump may
// see a task's poll count go down.
func TestStressDumpWhileRunning(t *testing.T) {
	checkLeaks(t)
	ex := smol.NewExecutor()
	defer ex.Close()
	stop := startWorkers(t, ex, 2)
	const tasks, steps = 64, 1000
	tx, rx := channel.NewUnbounded[int]()
	defer tx.Close()
	defer rx.Close()
	idleTx, idle := channel.New[int](1)
	defer idleTx.Close()
	defer idle.Close()
	cd := newCountdown(tasks * 3 / 4)
	var dumps, busy atomic.Int32 // busy: dumps that saw a task queued or running
	var doomed []*smol.Task[struct{}]
	recvs := 0
	for i := range tasks {
		switch i % 4 {
		case 0: // yields, until enough dumps have been taken
			left := steps
			smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
				if left--; left <= 0 && dumps.Load() >= 200 {
					cd.Done()
					return struct{}{}, true, nil
				}
				cx.Waker().Wake()
				return struct{}{}, false, nil
			})).Detach()
		case 1: // receives
			recvs++
			left := steps / 10
			f := rx.Recv()
			smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
				for {
					if _, ok, err := f.Poll(cx); err != nil {
						return struct{}{}, true, err
					} else if !ok {
						return struct{}{}, false, nil
					}
					if left--; left == 0 {
						cd.Done()
						return struct{}{}, true, nil
					}
					f.Reset(rx)
				}
			})).Detach()
		case 2: // sleeps
			left := 20
			tm := smol.Sleep(20 * time.Microsecond)
			smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
				for {
					if _, ok, _ := tm.Poll(cx); !ok {
						return struct{}{}, false, nil
					}
					if left--; left == 0 {
						cd.Done()
						return struct{}{}, true, nil
					}
					tm.Reset(20 * time.Microsecond)
				}
			})).Detach()
		default: // waits on a channel that stays empty until canceled
			doomed = append(doomed, smol.SpawnOn(ex, smol.Map(idle.Recv(), func(int) struct{} { return struct{}{} })))
		}
	}
	var dumping atomic.Bool
	dumping.Store(true)
	dumped := make(chan struct{})
	go func() {
		defer close(dumped)
		seen := map[uint32]uint32{} // id -> highest poll count seen
		var buf strings.Builder
		for dumping.Load() {
			sawBusy := false
			for _, ti := range ex.Tasks() {
				sawBusy = sawBusy || ti.State != smol.TaskWaiting
				if ti.ID == 0 || ti.State > smol.TaskRunning {
					t.Errorf("bad task info %+v", ti)
					return
				}
				if ti.State == smol.TaskRunning {
					continue // a running task's count is not read
				}
				if ti.Polls < seen[ti.ID] {
					t.Errorf("task %d: %d polls after %d", ti.ID, ti.Polls, seen[ti.ID])
					return
				}
				seen[ti.ID] = ti.Polls
			}
			buf.Reset()
			if err := ex.DumpTasks(&buf); err != nil || !strings.HasPrefix(buf.String(), "Executor: ") {
				t.Errorf("DumpTasks: %v, %q", err, buf.String())
				return
			}
			dumps.Add(1)
			if sawBusy {
				busy.Add(1)
			}
		}
	}()
	go func() {
		for i := range recvs * (steps / 10) {
			tx.TrySend(i)
			if i%16 == 0 {
				time.Sleep(10 * time.Microsecond)
			}
		}
	}()
	for _, task := range doomed {
		time.Sleep(50 * time.Microsecond)
		task.Cancel()
	}
	guard, cancel := hangGuard()
	defer cancel()
	if e, err := smol.BlockOn(smol.Select(cd, guard)); err != nil || e.Index != 0 {
		t.Fatalf("%d tasks did not finish", cd.left.Load())
	}
	dumping.Store(false)
	<-dumped
	stop(nil)
	for i, task := range doomed {
		if err := taskErr(t, task); err != smol.ErrCanceled {
			t.Fatalf("doomed task %d: %v, want ErrCanceled", i, err)
		}
	}
	t.Logf("%d dumps, %d of them with tasks queued or running", dumps.Load(), busy.Load())
}
