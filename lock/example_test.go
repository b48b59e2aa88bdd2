package lock_test

import (
	"errors"
	"fmt"
	"sync"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
	"github.com/smolgo/smol/lock"
)

// Two tasks share a Mutex; each holds it across a point where it is
// pending (a yield here, an I/O wait in real code).
func ExampleMutex() {
	var mu lock.Mutex
	var log []string
	ex := smol.NewLocalExecutor()

	worker := func(name string) smol.Future[struct{}] {
		lf := mu.Acquire()
		y := smol.YieldNow()
		locked := false
		return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			if !locked {
				if _, ok, _ := lf.Poll(cx); !ok {
					return struct{}{}, false, nil // the other task holds the lock
				}
				locked = true
				log = append(log, name+" in")
			}
			if _, ok, _ := y.Poll(cx); !ok {
				return struct{}{}, false, nil // pending with the lock held
			}
			log = append(log, name+" out")
			mu.Unlock()
			return struct{}{}, true, nil
		})
	}
	a := smol.SpawnOn(ex, worker("a"))
	b := smol.SpawnOn(ex, worker("b"))
	smol.Run(ex, smol.Join(a, b))
	fmt.Println(log)
	// Output: [a in a out b in b out]
}

// Goroutines use the blocking forms.
func ExampleMutex_LockBlocking() {
	var mu lock.Mutex
	var wg sync.WaitGroup
	total := 0
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				mu.LockBlocking()
				total++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Println(total)
	// Output: 4000
}

func ExampleRwLock() {
	var rw lock.RwLock
	rw.ReadBlocking()
	rw.ReadBlocking()
	fmt.Println("two readers; a writer may enter:", rw.TryWrite())
	rw.RUnlock()
	rw.RUnlock()
	rw.WriteBlocking()
	fmt.Println("a writer; a reader may enter:", rw.TryRead())
	rw.Unlock()
	// Output:
	// two readers; a writer may enter: false
	// a writer; a reader may enter: false
}

func ExampleSemaphore() {
	sem := lock.NewSemaphore(2)
	first := sem.Acquire(2)
	second := sem.Acquire(1)
	noop := smol.NewContext(smol.NoopWaker)
	_, ok1, _ := first.Poll(noop)
	_, ok2, _ := second.Poll(noop)
	fmt.Println(ok1, ok2)
	sem.Release(2) // hands a permit to the waiting second
	_, ok2, _ = second.Poll(noop)
	fmt.Println(ok2, sem.TryAcquire(1))
	// Output:
	// true false
	// true true
}

func ExampleBarrier() {
	b := lock.NewBarrier(3)
	var mu sync.Mutex
	leaders := 0
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.WaitBlocking() {
				mu.Lock()
				leaders++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Println("leaders:", leaders)
	// Output: leaders: 1
}

// A failed initialization leaves the cell empty; the next caller tries.
func ExampleOnceCell() {
	var cfg lock.OnceCell[string]
	_, err := cfg.GetOrInitBlocking(func() (string, error) {
		return "", errors.New("config server down")
	})
	fmt.Println("first:", err)
	v, err := cfg.GetOrInitBlocking(func() (string, error) { return "loaded", nil })
	fmt.Println("second:", v, err)
	v, _ = cfg.GetOrInitBlocking(func() (string, error) { return "never called", nil })
	fmt.Println("third:", v)
	// Output:
	// first: config server down
	// second: loaded <nil>
	// third: loaded
}

// The future form: the initializer is itself a future.
func ExampleOnceCell_GetOrInit() {
	var cell lock.OnceCell[int]
	v, err := smol.BlockOn(cell.GetOrInit(func() smol.Future[int] {
		return blocking.Unblock(func() (int, error) { return 6 * 7, nil }) // on the blocking pool
	}))
	fmt.Println(v, err)
	// Output: 42 <nil>
}
