package lock_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
)

// BenchmarkMutexUncontended: one goroutine locks and unlocks.
func BenchmarkMutexUncontended(b *testing.B) {
	b.Run("smol-LockBlocking", func(b *testing.B) {
		b.ReportAllocs()
		var m lock.Mutex
		for range b.N {
			m.LockBlocking()
			m.Unlock()
		}
	})
	b.Run("smol-future-reused", func(b *testing.B) {
		b.ReportAllocs()
		var m lock.Mutex
		var f lock.LockFuture
		for range b.N {
			f.Reset(&m)
			f.Poll(noop)
			m.Unlock()
		}
	})
	b.Run("smol-future-new", func(b *testing.B) {
		b.ReportAllocs()
		var m lock.Mutex
		for range b.N {
			m.Acquire().Poll(noop)
			m.Unlock()
		}
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		b.ReportAllocs()
		var m sync.Mutex
		for range b.N {
			m.Lock()
			m.Unlock()
		}
	})
}

// BenchmarkMutexContended: goroutines (RunParallel, GOMAXPROCS of them)
// contend for one lock with a tiny critical section.
func BenchmarkMutexContended(b *testing.B) {
	b.Run("smol-LockBlocking", func(b *testing.B) {
		b.ReportAllocs()
		var m lock.Mutex
		n := 0
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.LockBlocking()
				n++
				m.Unlock()
			}
		})
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		b.ReportAllocs()
		var m sync.Mutex
		n := 0
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Lock()
				n++
				m.Unlock()
			}
		})
	})
}

// lockLoop is a task that locks, yields with the lock held, and unlocks, n
// times: the case the async Mutex exists for.
type lockLoop struct {
	m    *lock.Mutex
	n    int
	f    lock.LockFuture
	step int
}

func (l *lockLoop) Poll(cx *smol.Context) (struct{}, bool, error) {
	for l.n > 0 {
		switch l.step {
		case 0:
			l.f.Reset(l.m)
			l.step = 1
		case 1:
			if _, ok, _ := l.f.Poll(cx); !ok {
				return struct{}{}, false, nil
			}
			l.step = 2
			cx.Waker().Wake() // pending with the lock held
			return struct{}{}, false, nil
		case 2:
			l.m.Unlock()
			l.n--
			l.step = 0
		}
	}
	return struct{}{}, true, nil
}

// BenchmarkMutexHeldAcrossYield: 8 workers take turns on one lock, each
// holding it across a yield, on two executor goroutines (smol) or as 8
// goroutines with sync.Mutex and runtime.Gosched. ns/op is per lock.
func BenchmarkMutexHeldAcrossYield(b *testing.B) {
	const workers = 8
	b.Run("smol-tasks", func(b *testing.B) {
		b.ReportAllocs()
		var m lock.Mutex
		ex := smol.NewExecutor()
		var ts []smol.Future[struct{}]
		for i := range workers {
			ts = append(ts, smol.SpawnOn(ex, &lockLoop{m: &m, n: b.N/workers + boolInt(i < b.N%workers)}))
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); smol.Run(ex, smol.Never[struct{}]()) }()
		smol.Run(ex, smol.JoinAll(ts))
		ex.Close()
		wg.Wait()
	})
	b.Run("goroutines-sync.Mutex", func(b *testing.B) {
		b.ReportAllocs()
		var m sync.Mutex
		var wg sync.WaitGroup
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range b.N/workers + boolInt(i < b.N%workers) {
					m.Lock()
					gosched()
					m.Unlock()
				}
			}()
		}
		wg.Wait()
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// BenchmarkSemaphore: acquire and release one permit, uncontended and
// with goroutines contending for 2 permits, next to a buffered Go channel
// used as a semaphore.
func BenchmarkSemaphore(b *testing.B) {
	b.Run("uncontended/smol-AcquireBlocking", func(b *testing.B) {
		b.ReportAllocs()
		s := lock.NewSemaphore(1)
		for range b.N {
			s.AcquireBlocking(1)
			s.Release(1)
		}
	})
	b.Run("uncontended/smol-future-reused", func(b *testing.B) {
		b.ReportAllocs()
		s := lock.NewSemaphore(1)
		var f lock.AcquireFuture
		for range b.N {
			f.Reset(s, 1)
			f.Poll(noop)
			s.Release(1)
		}
	})
	b.Run("uncontended/chan", func(b *testing.B) {
		b.ReportAllocs()
		s := make(chan struct{}, 1)
		for range b.N {
			s <- struct{}{}
			<-s
		}
	})
	b.Run("contended/smol-AcquireBlocking", func(b *testing.B) {
		b.ReportAllocs()
		s := lock.NewSemaphore(2)
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.AcquireBlocking(1)
				s.Release(1)
			}
		})
	})
	b.Run("contended/chan", func(b *testing.B) {
		b.ReportAllocs()
		s := make(chan struct{}, 2)
		b.SetParallelism(2)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s <- struct{}{}
				<-s
			}
		})
	})
}

// gosched stands in for a wait while a goroutine holds a lock.
func gosched() { runtime.Gosched() }
