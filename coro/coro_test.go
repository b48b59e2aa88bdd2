package coro_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/clock"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/lock"
	"github.com/smolgo/smol/smolnet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The default blocking pool's idle goroutines exit 500 ms after
		// their last job (DNS in the socket tests).
		goleak.IgnoreTopFunction("github.com/smolgo/smol/blocking.(*Pool).work"))
}

// tickAll runs ex until nothing is queued.
func tickAll(ex *smol.LocalExecutor) {
	for ex.TryTick() {
	}
}

// signal is a future that is pending until Fire, and counts its polls and
// discards: a probe of what Await does with the future it awaits.
type signal struct {
	mu        sync.Mutex
	fired     bool
	w         smol.Waker
	polls     int
	discarded int
}

func (s *signal) Poll(cx *smol.Context) (int, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.polls++
	if s.fired {
		return 7, true, nil
	}
	s.w = cx.Waker()
	return 0, false, nil
}

func (s *signal) Discard() {
	s.mu.Lock()
	s.discarded++
	s.mu.Unlock()
}

func (s *signal) Fire() {
	s.mu.Lock()
	s.fired = true
	w := s.w
	s.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

func TestAwaitReadyAndPending(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sig := &signal{}
	var steps []string
	task := coro.Spawn(ex, func(co *coro.Co) (string, error) {
		v, err := coro.Await(co, smol.Ready(1))
		steps = append(steps, fmt.Sprint("ready ", v, err))
		v, err = coro.Await(co, sig)
		steps = append(steps, fmt.Sprint("woken ", v, err))
		_, err = coro.Await(co, smol.Failed[int](io.ErrUnexpectedEOF))
		return "done", err
	})
	tickAll(ex)
	if task.IsFinished() || len(steps) != 1 || sig.polls != 1 {
		t.Fatalf("before the wake: finished=%v steps=%v polls=%d", task.IsFinished(), steps, sig.polls)
	}
	sig.Fire()
	tickAll(ex)
	v, err := smol.BlockOn(task)
	if v != "done" || err != io.ErrUnexpectedEOF || strings.Join(steps, "; ") != "ready 1 <nil>; woken 7 <nil>" {
		t.Fatalf("got %q %v, steps %v", v, err, steps)
	}
	if sig.polls != 2 || sig.discarded != 0 {
		t.Fatalf("the signal was polled %d times and discarded %d, want 2 and 0", sig.polls, sig.discarded)
	}
}

// TestTraceIsReproducible: 100 coroutine tasks on one LocalExecutor
// interleave through yields and channels; the trace of who ran when is
// the same in 100 runs.
func TestTraceIsReproducible(t *testing.T) {
	run := func() string {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		var trace strings.Builder
		tx, rx := channel.New[int](3)
		var tasks []*smol.Task[int]
		for i := range 100 {
			tasks = append(tasks, coro.Spawn(ex, func(co *coro.Co) (int, error) {
				sum := 0
				for step := range 5 {
					fmt.Fprintf(&trace, "%d.%d ", i, step)
					switch (i + step) % 3 {
					case 0:
						co.Yield()
					case 1:
						if err := coro.Send(co, tx, i*10+step); err != nil {
							return 0, err
						}
					case 2:
						v, err := coro.Recv(co, rx)
						if err != nil {
							return 0, err
						}
						fmt.Fprintf(&trace, "<%d ", v)
						sum += v
					}
				}
				return sum, nil
			}))
		}
		// Balance sends and receives so that every task can finish.
		tickAll(ex)
		for ex.TryTick() || rx.Len() > 0 || !allDone(tasks) {
			if !ex.TryTick() {
				if rx.Len() > 0 {
					v, _ := rx.TryRecv()
					fmt.Fprintf(&trace, "drain %d ", v)
				} else if !allDone(tasks) {
					if err := tx.TrySend(-1); err != nil {
						break
					}
				}
			}
		}
		return trace.String()
	}
	first := run()
	if len(first) < 1000 {
		t.Fatalf("trace too short to mean anything: %q", first)
	}
	for i := range 99 {
		if got := run(); got != first {
			t.Fatalf("run %d differs:\n%s\nvs\n%s", i+2, got, first)
		}
	}
}

func allDone(ts []*smol.Task[int]) bool {
	for _, t := range ts {
		if !t.IsFinished() {
			return false
		}
	}
	return true
}

// TestCancelUnwinds: canceling a coroutine task suspended in an await runs
// its deferred calls (in order, before Cancel returns), discards the
// awaited future without polling it again, and makes awaits inside the
// deferred calls panic again rather than wait.
func TestCancelUnwinds(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sig := &signal{}
	var order []string
	var deferredAwait any
	task := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		defer func() { order = append(order, "outer defer") }()
		defer func() {
			defer func() { deferredAwait = recover() }()
			order = append(order, "inner defer")
			coro.Await(co, smol.Never[int]()) // after the cancel: panics at once
			order = append(order, "not reached")
		}()
		v, err := coro.Await(co, sig)
		order = append(order, "not reached either")
		return v, err
	})
	tickAll(ex)
	task.Cancel()
	if got := strings.Join(order, ", "); got != "inner defer, outer defer" {
		t.Fatalf("deferred calls: %q", got)
	}
	if _, ok := deferredAwait.(coro.Canceled); !ok {
		t.Fatalf("an await in a deferred call after the cancel: %#v, want coro.Canceled", deferredAwait)
	}
	if sig.polls != 1 || sig.discarded != 1 {
		t.Fatalf("the awaited future: %d polls, %d discards; want 1 and 1", sig.polls, sig.discarded)
	}
	if _, err := smol.BlockOn(task); err != smol.ErrCanceled {
		t.Fatalf("awaiting the canceled task: %v", err)
	}
	// A coroutine canceled before it ever ran does not run at all.
	ran := false
	late := coro.Spawn(ex, func(co *coro.Co) (int, error) { ran = true; return 0, nil })
	late.Cancel()
	tickAll(ex)
	if _, err := smol.BlockOn(late); ran || err != smol.ErrCanceled {
		t.Fatalf("a task canceled before its first poll ran=%v err=%v", ran, err)
	}
}

// TestCloseUnwindsOneAtATime: closing a LocalExecutor unwinds its
// coroutines on the closing goroutine, one after another, even while
// another goroutine wakes them; so their deferred calls may share state
// without a lock, as their bodies do. Deferred calls that overlap are
// counted, and under -race they are also a data race on the map (coro's
// Example_chat raced this way before Close left such wakes to itself).
func TestCloseUnwindsOneAtATime(t *testing.T) {
	var running, overlaps atomic.Int32
	for range 200 {
		ex := smol.NewLocalExecutor()
		shared := map[int]bool{}
		var senders []*channel.Sender[int]
		for i := range 4 {
			tx, rx := channel.New[int](1)
			senders = append(senders, tx)
			coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
				shared[i] = true
				defer func() {
					if running.Add(1) > 1 {
						overlaps.Add(1)
					}
					runtime.Gosched() // give an overlap the time to show
					delete(shared, i)
					running.Add(-1)
				}()
				_, err := coro.Recv(co, rx)
				return struct{}{}, err
			}).Detach()
		}
		tickAll(ex)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, tx := range senders {
				tx.Close() // wakes the receiver from this goroutine
			}
		}()
		ex.Close()
		<-done
		if len(shared) != 0 {
			t.Fatalf("after Close, %d coroutines had not unwound", len(shared))
		}
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d deferred calls ran beside another", n)
	}
}

// TestCloseCancelsBlockedRead: a coroutine blocked in a socket read is
// canceled by closing its executor; its deferred Close of the socket runs.
func TestCloseCancelsBlockedRead(t *testing.T) {
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ex := smol.NewLocalExecutor()
	var closed atomic.Bool
	task := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		c, err := coro.Accept(co, ln)
		if err != nil {
			return 0, err
		}
		defer func() { c.Close(); closed.Store(true) }()
		return co.Read(c, make([]byte, 16)) // the client never writes
	})
	for range 100 {
		tickAll(ex)
		time.Sleep(time.Millisecond)
		if ts := ex.Tasks(); len(ts) == 1 && ts[0].Op == smol.WaitRead {
			break
		}
	}
	if ts := ex.Tasks(); len(ts) != 1 || ts[0].Op != smol.WaitRead {
		t.Fatalf("the coroutine is not waiting to read: %v", ts)
	}
	ex.Close()
	if !closed.Load() {
		t.Fatal("Close returned before the coroutine's deferred Close ran")
	}
	if _, err := smol.BlockOn(task); err != smol.ErrClosed {
		t.Fatalf("awaiting the task: %v, want ErrClosed", err)
	}
	// The server side of the connection is closed: the client reads EOF.
	client.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read %v, want EOF", err)
	}
}

func TestPanicPropagates(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		co.Yield()
		panicHere()
		return 0, nil
	})
	tickAll(ex)
	defer func() {
		pe, ok := recover().(*smol.PanicError)
		if !ok || pe.Value != "boom" {
			t.Fatalf("recovered %#v, want a *smol.PanicError of boom", pe)
		}
		if !strings.Contains(string(pe.Stack), "panicHere") {
			t.Fatalf("the stack is not the coroutine's:\n%s", pe.Stack)
		}
	}()
	smol.BlockOn(task)
	t.Fatal("awaiting a panicked coroutine task did not panic")
}

func panicHere() { panic("boom") }

func mustPanicWith(t *testing.T, want string, fn func()) {
	t.Helper()
	defer func() {
		r := recover()
		if s, _ := r.(string); !strings.Contains(s, want) {
			t.Fatalf("panic %#v, want one containing %q", r, want)
		}
	}()
	fn()
}

// TestMisuse: an await handle used from another goroutine, from another
// task, or after its coroutine ended panics with a message that says so.
func TestMisuse(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var leaked *coro.Co
	fromGoroutine := make(chan any, 1)
	first := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		leaked = co
		return coro.Await(co, smol.Never[int]())
	})
	tickAll(ex)
	// From another goroutine, once the coroutine is suspended (a goroutine
	// started from inside it could run before it suspends, while the
	// handle is legitimately in use).
	go func() {
		defer func() { fromGoroutine <- recover() }()
		coro.Await(leaked, smol.Ready(1))
	}()
	if r, _ := (<-fromGoroutine).(string); !strings.Contains(r, "outside its coroutine") {
		t.Fatalf("from another goroutine: %q", r)
	}
	// From another task: the handle's coroutine is suspended, not running.
	other := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		mustPanicWith(t, "outside its coroutine", func() { coro.Await(leaked, smol.Ready(1)) })
		return 0, true, nil
	}))
	tickAll(ex)
	if _, err := smol.BlockOn(other); err != nil {
		t.Fatal(err)
	}
	first.Cancel()
	// After its coroutine ended.
	mustPanicWith(t, "after its coroutine ended", func() { coro.Await(leaked, smol.Ready(1)) })
}

// TestBudgetInsideCoroutine: a coroutine receiving from a channel that is
// never empty still yields to the other tasks every DefaultBudget
// receives, through the cooperative budget.
func TestBudgetInsideCoroutine(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	tx, rx := channel.NewUnbounded[int]()
	for i := range 10 * smol.DefaultBudget {
		tx.TrySend(i)
	}
	received := 0
	maxGap, last := 0, 0
	coro.Spawn(ex, func(co *coro.Co) (int, error) {
		for received < 10*smol.DefaultBudget {
			if _, err := coro.Recv(co, rx); err != nil {
				return 0, err
			}
			received++
		}
		return 0, nil
	}).Detach()
	other := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		for received < 10*smol.DefaultBudget {
			maxGap = max(maxGap, received-last)
			last = received
			co.Yield()
		}
		return 0, nil
	})
	tickAll(ex)
	if !other.IsFinished() || maxGap > smol.DefaultBudget {
		t.Fatalf("the other task saw up to %d receives between its polls, want at most %d", maxGap, smol.DefaultBudget)
	}
}

// TestEverythingInside: inside coroutines, spawn tasks, race futures, use
// a timer on a manual clock, a lock and a channel.
func TestEverythingInside(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	var mu lock.Mutex
	inside := 0
	maxInside := 0
	worker := func(co *coro.Co) (int, error) {
		co.Lock(&mu)
		defer mu.Unlock()
		inside++
		maxInside = max(maxInside, inside)
		if err := co.Sleep(time.Second); err != nil {
			return 0, err
		}
		inside--
		return 1, nil
	}
	main := coro.Spawn(ex, func(co *coro.Co) (string, error) {
		var kids []smol.Future[int]
		for range 3 {
			kids = append(kids, coro.Spawn(co.Executor(), worker))
		}
		all, err := coro.Await(co, smol.JoinAll(kids))
		if err != nil {
			return "", err
		}
		w, err := coro.Await(co, smol.Race(smol.Map(smol.Sleep(time.Hour), func(time.Time) string { return "slow" }),
			smol.Map(smol.Sleep(time.Minute), func(time.Time) string { return "fast" })))
		return fmt.Sprint(all, " ", w.Value, " ", co.Driver().Now().Format(time.TimeOnly)), err
	})
	for !main.IsFinished() {
		tickAll(ex)
		next, ok := clk.Next()
		if !ok {
			t.Fatal("nothing left to wait for, and the main coroutine is not done")
		}
		clk.AdvanceTo(next)
	}
	got, err := smol.BlockOn(main)
	if err != nil || got != "[1 1 1] fast 00:01:03" || maxInside != 1 {
		t.Fatalf("got %q %v, %d inside the lock at once", got, err, maxInside)
	}
}

// TestManyCoroutinesNoLeak: 100,000 coroutines complete or are canceled,
// and no goroutine is left (goleak, in TestMain, and here).
func TestManyCoroutinesNoLeak(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	ex := smol.NewLocalExecutor()
	var done, canceled int
	for batch := 0; batch < n; batch += 1000 {
		var tasks []*smol.Task[int]
		for i := range 1000 {
			tasks = append(tasks, coro.Spawn(ex, func(co *coro.Co) (int, error) {
				if i%2 == 0 {
					co.Yield()
					return i, nil
				}
				return coro.Await(co, smol.Never[int]())
			}))
		}
		tickAll(ex)
		for _, task := range tasks {
			if task.IsFinished() {
				done++
			} else {
				task.Cancel()
				canceled++
			}
		}
	}
	ex.Close()
	if done != n/2 || canceled != n/2 {
		t.Fatalf("%d done, %d canceled", done, canceled)
	}
	goleak.VerifyNone(t, goleak.IgnoreTopFunction("github.com/smolgo/smol/blocking.(*Pool).work"))
}

// TestOnExecutor runs coroutines on a multi-threaded Executor: successive
// polls of one coroutine may run on different workers.
func TestOnExecutor(t *testing.T) {
	ex := smol.NewExecutor()
	ex.Start(2)
	defer ex.Shutdown()
	tx, rx := channel.New[int](1)
	var tasks []smol.Future[int]
	for i := range 50 {
		tasks = append(tasks, coro.Spawn(ex, func(co *coro.Co) (int, error) {
			for j := range 100 {
				if err := coro.Send(co, tx, i*100+j); err != nil {
					return 0, err
				}
			}
			return 0, nil
		}))
	}
	sum := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		s := 0
		for range 50 * 100 {
			v, err := coro.Recv(co, rx)
			if err != nil {
				return 0, err
			}
			s += v
		}
		return s, nil
	})
	if _, err := smol.BlockOn(smol.JoinAll(tasks)); err != nil {
		t.Fatal(err)
	}
	if s, err := smol.BlockOn(sum); err != nil || s != (5000*4999)/2 {
		t.Fatalf("sum %d %v", s, err)
	}
	_ = runtime.NumGoroutine()
}

func TestReadWriteHelpers(t *testing.T) {
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	server := coro.Spawn(ex, func(co *coro.Co) (string, error) {
		c, err := coro.Accept(co, ln)
		if err != nil {
			return "", err
		}
		defer c.Close()
		buf := make([]byte, 5)
		if _, err := co.ReadFull(c, buf); err != nil {
			return "", err
		}
		if _, err := co.WriteAll(c, append(buf, " world"...)); err != nil {
			return "", err
		}
		_, err = co.ReadFull(c, make([]byte, 10)) // the client sends 3 and closes
		return string(buf), err
	})
	client := coro.Spawn(ex, func(co *coro.Co) (string, error) {
		c, err := coro.Await(co, smolnet.Dial("tcp", ln.AddrPort().String()))
		if err != nil {
			return "", err
		}
		defer c.Close()
		if _, err := fmt.Fprint(co.IOWriter(c), "hello"); err != nil {
			return "", err
		}
		got := make([]byte, 11)
		if _, err := io.ReadFull(co.IOReader(c), got); err != nil {
			return "", err
		}
		_, err = co.WriteAll(c, []byte("abc"))
		return string(got), err
	})
	s, serr := smol.Run(ex, server)
	c, cerr := smol.Run(ex, client)
	if s != "hello" || !errors.Is(serr, io.ErrUnexpectedEOF) || c != "hello world" || cerr != nil {
		t.Fatalf("server %q %v, client %q %v", s, serr, c, cerr)
	}
}
