package coro_test

import (
	"iter"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
)

// The coroutine path beside the stackless path and plain goroutines:
//
//	go test -run '^$' -bench . -benchmem -count 5 ./coro
//
// BenchmarkAwaitReady: one await of a future that is ready at once.
// BenchmarkPendingRoundTrip: a wake from one task to another and back, each
// side suspending until the other's wake.
// BenchmarkParkedMemory: bytes of heap and stack per task parked on a
// future that never fires, reported as B/task.

func BenchmarkAwaitReady(b *testing.B) {
	b.Run("coroutine", func(b *testing.B) {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		b.ReportAllocs()
		task := coro.Spawn(ex, func(co *coro.Co) (int, error) {
			f := smol.Ready(1)
			sum := 0
			for range b.N {
				v, _ := coro.Await(co, f)
				sum += v
			}
			return sum, nil
		})
		b.ResetTimer()
		smol.Run(ex, task)
	})
	b.Run("stackless", func(b *testing.B) {
		// A hand-written future polling a ready future, as a state machine
		// awaits a child.
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		b.ReportAllocs()
		f := smol.Ready(1)
		n, sum := 0, 0
		task := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
			for ; n < b.N; n++ {
				v, ok, _ := f.Poll(cx)
				if !ok {
					return 0, false, nil
				}
				sum += v
			}
			return sum, true, nil
		}))
		b.ResetTimer()
		smol.Run(ex, task)
	})
	b.Run("goroutine", func(b *testing.B) {
		// The goroutine counterpart of a ready future: a receive from a
		// buffered channel that holds a value.
		b.ReportAllocs()
		ch := make(chan int, 1)
		sum := 0
		for range b.N {
			ch <- 1
			sum += <-ch
		}
	})
}

// pingPong is a future that is pending until the other side fires it;
// each side of the benchmark awaits its own and fires the other's.
type flag struct {
	mu  sync.Mutex
	set bool
	w   smol.Waker
}

func (f *flag) Poll(cx *smol.Context) (struct{}, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.set {
		f.set = false
		return struct{}{}, true, nil
	}
	f.w = cx.Waker()
	return struct{}{}, false, nil
}

func (f *flag) fire() {
	f.mu.Lock()
	f.set = true
	w := f.w
	f.w = nil
	f.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

func BenchmarkPendingRoundTrip(b *testing.B) {
	b.Run("coroutine", func(b *testing.B) {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		b.ReportAllocs()
		ping, pong := &flag{}, &flag{}
		coro.Spawn(ex, func(co *coro.Co) (int, error) {
			for {
				if _, err := coro.Await(co, ping); err != nil {
					return 0, err
				}
				pong.fire()
			}
		}).Detach()
		main := coro.Spawn(ex, func(co *coro.Co) (int, error) {
			for range b.N {
				ping.fire()
				if _, err := coro.Await(co, pong); err != nil {
					return 0, err
				}
			}
			return 0, nil
		})
		b.ResetTimer()
		smol.Run(ex, main)
	})
	b.Run("stackless", func(b *testing.B) {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		b.ReportAllocs()
		ping, pong := &flag{}, &flag{}
		smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
			for {
				if _, ok, _ := ping.Poll(cx); !ok {
					return 0, false, nil
				}
				pong.fire()
			}
		})).Detach()
		n, waiting := 0, false
		main := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
			for n < b.N {
				if !waiting {
					ping.fire()
					waiting = true
				}
				if _, ok, _ := pong.Poll(cx); !ok {
					return 0, false, nil
				}
				waiting = false
				n++
			}
			return 0, true, nil
		}))
		b.ResetTimer()
		smol.Run(ex, main)
	})
	b.Run("goroutine", func(b *testing.B) {
		b.ReportAllocs()
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() {
			for range ping {
				pong <- struct{}{}
			}
		}()
		for range b.N {
			ping <- struct{}{}
			<-pong
		}
		close(ping)
	})
}

// parked measures the memory that n tasks (or goroutines) hold while
// parked, with park starting them and unpark ending them.
func parked(b *testing.B, n int, park func(i int), unpark func()) {
	var before, after runtime.MemStats
	debug.FreeOSMemory()
	runtime.ReadMemStats(&before)
	for i := range n {
		park(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
	b.ReportMetric(float64(used)/float64(n), "B/task")
	unpark()
}

func BenchmarkParkedMemory(b *testing.B) {
	const n = 10_000
	b.Run("coroutine", func(b *testing.B) {
		for range b.N {
			ex := smol.NewLocalExecutor()
			parked(b, n, func(int) {
				coro.Spawn(ex, func(co *coro.Co) (int, error) { return coro.Await(co, smol.Never[int]()) }).Detach()
				ex.TryTick()
			}, ex.Close)
		}
	})
	b.Run("stackless", func(b *testing.B) {
		for range b.N {
			ex := smol.NewLocalExecutor()
			parked(b, n, func(int) {
				smol.SpawnOn(ex, smol.Never[int]()).Detach()
				ex.TryTick()
			}, ex.Close)
		}
	})
	b.Run("goroutine", func(b *testing.B) {
		for range b.N {
			stop := make(chan struct{})
			var wg sync.WaitGroup
			parked(b, n, func(int) {
				wg.Add(1)
				go func() { defer wg.Done(); <-stop }()
			}, func() { close(stop); wg.Wait() })
		}
	})
}

// BenchmarkIterPullSwitch is the floor under a coroutine's suspension: one
// resume and one suspend of a bare iter.Pull iterator, with nothing else.
func BenchmarkIterPullSwitch(b *testing.B) {
	next, stop := iter.Pull(func(yield func(int) bool) {
		for i := 0; ; i++ {
			if !yield(i) {
				return
			}
		}
	})
	defer stop()
	b.ReportAllocs()
	for range b.N {
		next()
	}
}
