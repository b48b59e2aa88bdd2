package channel_test

import (
	"go.uber.org/goleak"
	"runtime"
	"sync"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

func TestFromGoReadyValue(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 5
	f := channel.FromGo(ch)
	if v, ok, err := f.Poll(cx(smol.NoopWaker)); !ok || v != 5 || err != nil {
		t.Fatalf("got %v %v %v", v, ok, err)
	}
	f.Discard()
	if _, ok := f.Leftover(); ok {
		t.Fatal("Leftover after ready returned a value")
	}
}

func TestFromGoWaits(t *testing.T) {
	ch := make(chan int)
	f := channel.FromGo(ch)
	w := &counter{}
	if _, ok, _ := f.Poll(cx(w)); ok {
		t.Fatal("ready with nothing sent")
	}
	ch <- 7 // the helper goroutine receives it
	// The send completed, so the helper has the value; wait for its wake.
	for w.n.Load() == 0 {
		runtime.Gosched()
	}
	if v, ok, _ := f.Poll(cx(w)); !ok || v != 7 {
		t.Fatalf("got %v %v", v, ok)
	}
}

func TestFromGoClosed(t *testing.T) {
	ch := make(chan int)
	close(ch)
	f := channel.FromGo(ch)
	if _, ok, err := f.Poll(cx(smol.NoopWaker)); !ok || err != channel.ErrClosed {
		t.Fatalf("closed: %v %v", ok, err)
	}
	ch2 := make(chan int)
	v, err := smol.Wait(t.Context(), channel.FromGo(func() <-chan int {
		go close(ch2)
		return ch2
	}()))
	if v != 0 || err != channel.ErrClosed {
		t.Fatalf("Wait on closing channel: %v %v", v, err)
	}
}

func TestFromGoDiscard(t *testing.T) {
	ch := make(chan int)
	f := channel.FromGo(ch)
	if _, ok, _ := f.Poll(cx(smol.NoopWaker)); ok {
		t.Fatal("ready")
	}
	f.Discard()
	if _, ok := f.Leftover(); ok {
		t.Fatal("Leftover returned a value never sent")
	}
	// The helper is gone (goleak checks at exit); nobody receives now.
	select {
	case ch <- 1:
		t.Fatal("a discarded future still receives")
	default:
	}

	// A value the helper took before Discard is returned, not lost.
	f = channel.FromGo(ch)
	if _, ok, _ := f.Poll(cx(smol.NoopWaker)); ok {
		t.Fatal("ready")
	}
	ch <- 9
	f.Discard()
	if v, ok := f.Leftover(); !ok || v != 9 {
		t.Fatalf("Leftover = %v %v, want 9 true", v, ok)
	}
	if _, ok := f.Leftover(); ok {
		t.Fatal("Leftover returned a value twice")
	}
}

// TestFromGoManyTasks: tasks on an executor each await a Go channel.
func TestFromGoManyTasks(t *testing.T) {
	ex := smol.NewExecutor()
	defer ex.Close()
	ch := make(chan int)
	const n = 20
	var fs []smol.Future[int]
	for range n {
		fs = append(fs, smol.SpawnOn(ex, channel.FromGo(ch)))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			ch <- i
		}
	}()
	vs, err := smol.Run(ex, smol.JoinAll(fs))
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, v := range vs {
		sum += v
	}
	if sum != n*(n-1)/2 {
		t.Fatalf("sum = %d", sum)
	}
	wg.Wait()
}

// TestFromGoCanceledTaskStopsHelper: a task awaiting a Go channel is
// canceled. The task discards its future, which is a smol.Discarder: the
// helper goroutine stops (goleak checks that it is gone), and a value sent
// afterwards stays in the Go channel for its other receivers instead of
// being taken by a helper nobody listens to.
func TestFromGoCanceledTaskStopsHelper(t *testing.T) {
	var _ smol.Discarder = channel.FromGo(make(chan int))
	for range 100 {
		ch := make(chan int, 1)
		ex := smol.NewLocalExecutor()
		task := smol.SpawnOn(ex, channel.FromGo(ch))
		for ex.TryTick() { // the task waits: the helper goroutine is blocked on ch
		}
		task.Cancel()
		if _, err := smol.BlockOn(task); err != smol.ErrCanceled {
			t.Fatalf("canceled task: %v", err)
		}
		ch <- 42 // buffered: the send never blocks
		select {
		case v := <-ch:
			if v != 42 {
				t.Fatalf("got %d", v)
			}
		default:
			t.Fatal("a value sent after the cancel was taken by the dead future's helper")
		}
		ex.Close()
	}
	goleak.VerifyNone(t)
}
