package smol_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
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
		v, ok := task.Cancel()
		switch {
		case ok:
			// Completed first: Cancel returns the output.
			completed++
			if v != i || task.Err() != nil {
				t.Fatalf("Cancel reported completion with (%d, err %v), want (%d, nil)", v, task.Err(), i)
			}
		default:
			canceled++
			if v != 0 || task.Err() != smol.ErrCanceled {
				t.Fatalf("Cancel reported no completion with (%d, err %v)", v, task.Err())
			}
			if got := smol.BlockOn(smol.Future[int](task)); got != 0 {
				t.Fatalf("a canceled task's handle gave %d", got)
			}
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
		smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) { panic("p") })).Detach()
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
		if got := smol.BlockOn(smol.Future[int](smol.SpawnOn(ex, yields(i%3, i)))); got != i {
			t.Fatalf("got %d, want %d", got, i)
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
			if err := task.Err(); err != nil && err != smol.ErrClosed {
				t.Fatalf("task %d: %v", i, err)
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
				smol.SpawnOn(ex, smol.PollFn[struct{}](func(*smol.Context) (struct{}, bool) {
					cd.Done()
					return struct{}{}, true
				})).Detach()
			}
		}()
	}
	guard, cancel := hangGuard()
	defer cancel()
	e, err := smol.Run(ex, smol.Select(smol.Future[struct{}](cd), guard))
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
			if err := task.Err(); err != nil && err != smol.ErrClosed {
				t.Fatalf("task %d: %v", k, err)
			}
		}
	}
}
