package smol_test

// Benchmarks of the core runtime, each beside its goroutine equivalent so
// that one run prints both:
//
//	go test -run '^$' -bench 'Spawn|WakeRoundTrip|ExecutorThroughput' -benchmem -count 5 .
//
// The spawn figures depend on GOMAXPROCS: with one P, goroutines started
// faster than they finish pile up as tasks do; with two, a second core runs
// them as they are started. Print both with -cpu 1,2.
//
// BenchmarkPendingTaskMemory builds a million tasks (and a million
// goroutines) per iteration; -benchtime=1x runs it once:
//
//	go test -run '^$' -bench PendingTaskMemory -benchtime=1x .

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
)

// nop is the trivial task: ready at its first poll.
type nop struct{}

func (nop) Poll(*smol.Context) (struct{}, bool, error) { return struct{}{}, true, nil }

// doneTask is the trivial task of the multi-threaded benchmarks: it
// tells cd that it ran, as the goroutine equivalent calls wg.Done.
type doneTask struct{ cd *countdown }

func (d doneTask) Poll(*smol.Context) (struct{}, bool, error) {
	d.cd.Done()
	return struct{}{}, true, nil
}

// batch is how many tasks or goroutines the batched benchmarks start
// before waiting for them.
const batch = 1024

// BenchmarkSpawn measures spawning and completing one trivial task, against
// `go f()` with a WaitGroup: b.N of them are started, then all are waited
// for. This is the shape, at GOMAXPROCS=1, of the goroutine anchor in
// DESIGN.md (1,107 ns there; this benchmark measures 1.2-1.4 µs, see BENCHMARKS.md).
func BenchmarkSpawn(b *testing.B) { benchSpawn(b, 0) }

// BenchmarkSpawnBatched is BenchmarkSpawn in batches of 1024 started, then
// waited for: fewer goroutines live at once, which favours goroutines.
func BenchmarkSpawnBatched(b *testing.B) { benchSpawn(b, batch) }

// chainNode has a task header's size and pointer count: 88 bytes, two
// scalar words (the state word, id, poll count and header offset) and nine
// pointer words (the awaiter and aux interfaces, the method table, the
// executor and three links).
type chainNode struct {
	n    [2]uintptr
	next *chainNode
	p    [8]*byte
}

var chainSink *chainNode

// BenchmarkAllocChain allocates b.N task-sized objects and keeps them all
// live in a chain, as BenchmarkSpawn keeps its pending tasks on a queue: the
// memory floor under that benchmark, with no executor at all.
func BenchmarkAllocChain(b *testing.B) {
	b.ReportAllocs()
	var head *chainNode
	for range b.N {
		head = &chainNode{next: head}
	}
	chainSink = head
	chainSink = nil
}

// benchSpawn starts b.N trivial tasks or goroutines, waiting for them every
// size (0: only at the end).
func benchSpawn(b *testing.B, batchSize int) {
	// size is the batch size for a sub-benchmark's b.N.
	size := func(b *testing.B) int {
		if batchSize == 0 {
			return max(b.N, 1)
		}
		return batchSize
	}
	b.Run("local", func(b *testing.B) {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		size := size(b)
		b.ReportAllocs()
		for i := 0; i < b.N; i += size {
			for range min(size, b.N-i) {
				smol.SpawnOn(ex, nop{})
			}
			// Main yields once: every task queued runs before it is
			// polled again and Run returns.
			if _, err := smol.Run(ex, smol.YieldNow()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("executor", func(b *testing.B) {
		// Workers on every core; the benchmark goroutine spawns and waits.
		ex := smol.NewExecutor()
		defer ex.Close()
		for range runtime.GOMAXPROCS(0) {
			go smol.Run(ex, smol.Never[struct{}]())
		}
		size := size(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i += size {
			n := min(size, b.N-i)
			cd := newCountdown(n)
			for range n {
				smol.SpawnOn(ex, doneTask{cd})
			}
			smol.BlockOn(cd)
		}
	})
	b.Run("goroutine", func(b *testing.B) {
		var wg sync.WaitGroup
		size := size(b)
		b.ReportAllocs()
		for i := 0; i < b.N; i += size {
			n := min(size, b.N-i)
			wg.Add(n)
			for range n {
				go wg.Done()
			}
			wg.Wait()
		}
	})
}

// rss returns the resident set size of the process, from /proc/self/statm.
func rss(b *testing.B) uint64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(data))
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return pages * uint64(os.Getpagesize())
}

// settle collects garbage and returns freed memory to the OS, then reports
// resident and heap bytes.
func settle(b *testing.B) (resident, heap uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return rss(b), ms.HeapInuse
}

const pendingN = 1_000_000

// BenchmarkPendingTaskMemory measures the memory a pending task costs: a
// million tasks wait on a future that never fires, and the growth of
// resident memory (and of the heap) is divided by their number. Its
// goroutine equivalent parks a million goroutines on a channel. One
// iteration builds and tears down a million of each; run it with
// -benchtime=1x. It takes about 20s, nearly all of it creating the
// goroutines.
//
// Only the first goroutine figure of a process is that of a fresh program:
// later runs (-count > 1) reuse the descriptors of the goroutines that
// exited, which shrinks the heap growth and changes the resident growth.
func BenchmarkPendingTaskMemory(b *testing.B) {
	b.Run("task", func(b *testing.B) {
		var sumRSS, sumHeap float64
		for range b.N {
			ex := smol.NewLocalExecutor()
			rss0, heap0 := settle(b)
			// Spawn, then poll each task once so that it is idle and
			// pending, as a task waiting for I/O is. The executor's
			// registry keeps the tasks reachable; no handle is kept.
			for range pendingN {
				smol.SpawnOn(ex, smol.Never[struct{}]())
			}
			for ex.TryTick() {
			}
			rss1, heap1 := settle(b)
			sumRSS += float64(int64(rss1-rss0)) / pendingN
			sumHeap += float64(int64(heap1-heap0)) / pendingN
			ex.Close()
		}
		b.ReportMetric(sumRSS/float64(b.N), "bytes/task")
		b.ReportMetric(sumHeap/float64(b.N), "heap-bytes/task")
	})
	b.Run("goroutine", func(b *testing.B) {
		var sumRSS, sumHeap float64
		for range b.N {
			block := make(chan struct{})
			var started, done sync.WaitGroup
			rss0, heap0 := settle(b)
			started.Add(pendingN)
			done.Add(pendingN)
			for range pendingN {
				go func() {
					started.Done()
					<-block
					done.Done()
				}()
			}
			started.Wait()
			rss1, heap1 := settle(b)
			sumRSS += float64(int64(rss1-rss0)) / pendingN
			sumHeap += float64(int64(heap1-heap0)) / pendingN
			close(block)
			done.Wait()
		}
		b.ReportMetric(sumRSS/float64(b.N), "bytes/goroutine")
		b.ReportMetric(sumHeap/float64(b.N), "heap-bytes/goroutine")
	})
}

// pingPong is shared by two tasks that take turns: each, on its turn, hands
// the turn to the other and wakes it. One round trip is two wakes and two
// polls.
type pingPong struct {
	turn  atomic.Int32
	left  atomic.Int64 // round trips still to make
	waker [2]atomic.Pointer[smol.Waker]
}

type pinger struct {
	p  *pingPong
	me int32
}

func (t pinger) Poll(cx *smol.Context) (struct{}, bool, error) {
	p := t.p
	// A task's waker does not change, so it is published once. Storing it
	// before the turn is read means the other side, which hands over the
	// turn before it loads the waker, either sees the waker or the turn
	// change is seen here.
	if p.waker[t.me].Load() == nil {
		w := cx.Waker()
		p.waker[t.me].Store(&w)
	}
	other := 1 - t.me
	if p.left.Load() <= 0 {
		// Done: the other may be waiting for its turn; let it see the end.
		if w := p.waker[other].Load(); w != nil {
			(*w).Wake()
		}
		return struct{}{}, true, nil
	}
	if p.turn.Load() == t.me {
		if t.me == 0 {
			p.left.Add(-1)
		}
		p.turn.Store(other)
		if w := p.waker[other].Load(); w != nil {
			(*w).Wake()
		}
	}
	return struct{}{}, false, nil
}

// BenchmarkWakeRoundTrip measures a wake-to-poll round trip between two
// tasks, against two goroutines passing a token over unbuffered channels.
func BenchmarkWakeRoundTrip(b *testing.B) {
	run := func(b *testing.B, ex smol.Runner) {
		p := &pingPong{}
		p.left.Store(int64(b.N))
		b.ReportAllocs()
		b.ResetTimer()
		t0 := smol.SpawnOn(ex, pinger{p, 0})
		t1 := smol.SpawnOn(ex, pinger{p, 1})
		if _, err := smol.Run(ex, smol.Join(t0, t1)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("local", func(b *testing.B) {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		run(b, ex)
	})
	b.Run("executor/workers=2", func(b *testing.B) {
		ex := smol.NewExecutor()
		defer ex.Close()
		go smol.Run(ex, smol.Never[struct{}]())
		run(b, ex)
	})
	b.Run("goroutine", func(b *testing.B) {
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() {
			for range ping {
				pong <- struct{}{}
			}
		}()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			ping <- struct{}{}
			<-pong
		}
		close(ping)
	})
}

// yieldSteps is how many times each task of the throughput benchmark
// yields before it completes.
const yieldSteps = 10

// yielder is a task that yields yieldSteps times and then reports done.
type yielder struct {
	left int
	cd   *countdown
}

func (y *yielder) Poll(cx *smol.Context) (struct{}, bool, error) {
	if y.left == 0 {
		y.cd.Done()
		return struct{}{}, true, nil
	}
	y.left--
	cx.Waker().Wake()
	return struct{}{}, false, nil
}

// BenchmarkExecutorThroughput runs many tasks that each yield a few times,
// on an Executor with one and with two workers; one op is one task
// (spawned, polled yieldSteps+1 times, completed). Its goroutine equivalent
// runs goroutines that call runtime.Gosched as often.
func BenchmarkExecutorThroughput(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run("workers="+strconv.Itoa(workers), func(b *testing.B) {
			ex := smol.NewExecutor()
			defer ex.Close()
			for range workers - 1 {
				go smol.Run(ex, smol.Never[struct{}]())
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				n := min(batch, b.N-i)
				cd := newCountdown(n)
				for range n {
					smol.SpawnOn(ex, &yielder{left: yieldSteps, cd: cd})
				}
				// This goroutine is one of the workers while it waits.
				if _, err := smol.Run(ex, cd); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, procs := range []int{1, 2} {
		b.Run("goroutine/procs="+strconv.Itoa(procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				n := min(batch, b.N-i)
				wg.Add(n)
				for range n {
					go func() {
						for range yieldSteps {
							runtime.Gosched()
						}
						wg.Done()
					}()
				}
				wg.Wait()
			}
		})
	}
}
