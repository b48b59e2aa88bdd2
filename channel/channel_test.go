package channel_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counter is a waker that counts its wakes.
type counter struct{ n atomic.Int32 }

func (c *counter) Wake() { c.n.Add(1) }

func cx(w smol.Waker) *smol.Context { return smol.NewContext(w) }

func TestNewPanicsOnZeroCapacity(t *testing.T) {
	for _, c := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("New(%d) did not panic", c)
				}
			}()
			channel.New[int](c)
		}()
	}
}

func TestLenCap(t *testing.T) {
	tx, rx := channel.New[int](3)
	if tx.Cap() != 3 || rx.Cap() != 3 {
		t.Fatalf("Cap = %d %d", tx.Cap(), rx.Cap())
	}
	for i := range 3 {
		if err := tx.TrySend(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.TrySend(9); err != channel.ErrFull {
		t.Fatalf("TrySend on full: %v", err)
	}
	if tx.Len() != 3 || rx.Len() != 3 {
		t.Fatalf("Len = %d", tx.Len())
	}
	utx, urx := channel.NewUnbounded[int]()
	if utx.Cap() != -1 || urx.Cap() != -1 {
		t.Fatal("unbounded Cap != -1")
	}
	for i := range 10000 {
		if err := utx.TrySend(i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10000 {
		if v, err := urx.TryRecv(); err != nil || v != i {
			t.Fatalf("TryRecv = %d, %v; want %d", v, err, i)
		}
	}
	if _, err := urx.TryRecv(); err != channel.ErrEmpty {
		t.Fatalf("TryRecv on empty: %v", err)
	}
}

// TestFIFOWrapAround checks order through many wrap-arounds of the ring.
func TestFIFOWrapAround(t *testing.T) {
	tx, rx := channel.New[int](5)
	next, want := 0, 0
	for round := range 100 {
		for range round%5 + 1 {
			if tx.TrySend(next) == nil {
				next++
			}
		}
		for range round%3 + 1 {
			v, err := rx.TryRecv()
			if err == channel.ErrEmpty {
				break
			}
			if v != want {
				t.Fatalf("got %d want %d", v, want)
			}
			want++
		}
	}
}

func TestCloseLastSenderDrains(t *testing.T) {
	tx, rx := channel.New[int](4)
	tx2 := tx.Clone()
	tx.TrySend(1)
	tx2.TrySend(2)
	// A receive waiting on an empty channel is woken by the close.
	_, rx2 := channel.New[int](1)
	tx.Close()
	tx.Close() // a second Close of the same handle must not count again
	if tx.IsClosed() != true || rx.IsClosed() {
		t.Fatal("closing one of two senders closed the channel")
	}
	if err := tx.TrySend(5); !errors.Is(err, channel.ErrClosed) {
		t.Fatalf("send through a closed handle: %v", err)
	}
	tx2.Close()
	if !rx.IsClosed() {
		t.Fatal("closing the last sender did not close the channel")
	}
	for _, want := range []int{1, 2} {
		if v, err := rx.TryRecv(); err != nil || v != want {
			t.Fatalf("drain: %d %v", v, err)
		}
	}
	if _, err := rx.TryRecv(); err != channel.ErrClosed {
		t.Fatalf("after drain: %v", err)
	}
	f := rx.Recv()
	if v, ok, err := f.Poll(cx(smol.NoopWaker)); !ok || v != 0 || err != channel.ErrClosed {
		t.Fatalf("Recv after drain: %v %v %v", v, ok, err)
	}
	rx2.Close()
}

func TestCloseWakesWaiters(t *testing.T) {
	tx, rx := channel.New[string](1)
	r := rx.Recv()
	var wr counter
	if _, ok, _ := r.Poll(cx(&wr)); ok {
		t.Fatal("recv ready on empty channel")
	}
	tx.TrySend("a")
	if v, ok, _ := r.Poll(cx(&wr)); !ok || v != "a" {
		t.Fatal("recv not ready after send")
	}
	tx.TrySend("full")
	s := tx.Send("lost")
	var ws counter
	if _, ok, _ := s.Poll(cx(&ws)); ok {
		t.Fatal("send ready on full channel")
	}
	if !rx.CloseChannel() || rx.CloseChannel() {
		t.Fatal("CloseChannel results wrong")
	}
	if ws.n.Load() != 1 {
		t.Fatal("close did not wake the sender")
	}
	_, ok, err := s.Poll(cx(&ws))
	var se *channel.SendError[string]
	if !ok || !errors.Is(err, channel.ErrClosed) || !errors.As(err, &se) || se.Value != "lost" {
		t.Fatalf("send after close: %v %v", ok, err)
	}
	// The queued value can still be received.
	if v, err := rx.RecvBlocking(); err != nil || v != "full" {
		t.Fatalf("drain: %q %v", v, err)
	}
	if _, err := rx.RecvBlocking(); err != channel.ErrClosed {
		t.Fatalf("drained: %v", err)
	}
	tx.Close()
	rx.Close()
}

func TestLastReceiverCloses(t *testing.T) {
	tx, rx := channel.NewUnbounded[int]()
	rx2 := rx.Clone()
	rx.Close()
	if err := tx.TrySend(1); err != nil {
		t.Fatal(err)
	}
	rx2.Close()
	err := tx.SendBlocking(7)
	var se *channel.SendError[int]
	if !errors.As(err, &se) || se.Value != 7 || !errors.Is(err, channel.ErrClosed) {
		t.Fatalf("send with no receivers: %v", err)
	}
	if _, err := rx2.TryRecv(); err != channel.ErrClosed {
		t.Fatalf("recv through a closed handle: %v", err)
	}
}

// TestDiscardedRecvPassesWake: a receive woken for a value and then
// discarded wakes the next receiver, which gets the value.
func TestDiscardedRecvPassesWake(t *testing.T) {
	tx, rx := channel.New[int](1)
	r1, r2 := rx.Recv(), rx.Recv()
	var w1, w2 counter
	if _, ok, _ := r1.Poll(cx(&w1)); ok {
		t.Fatal("r1 ready")
	}
	if _, ok, _ := r2.Poll(cx(&w2)); ok {
		t.Fatal("r2 ready")
	}
	tx.TrySend(42)
	if w1.n.Load() != 1 || w2.n.Load() != 0 {
		t.Fatalf("wakes after send: %d %d", w1.n.Load(), w2.n.Load())
	}
	r1.Discard()
	if w2.n.Load() != 1 {
		t.Fatal("discarded receive did not pass its wake on")
	}
	if v, ok, _ := r2.Poll(cx(&w2)); !ok || v != 42 {
		t.Fatalf("r2 = %v %v", v, ok)
	}
	// A discarded receive that was never woken wakes nobody.
	r3, r4 := rx.Recv(), rx.Recv()
	var w3, w4 counter
	r3.Poll(cx(&w3))
	r4.Poll(cx(&w4))
	r3.Discard()
	if w4.n.Load() != 0 {
		t.Fatal("an unwoken discard woke someone")
	}
	r4.Discard()
}

// TestDiscardedSendPassesWake: a send woken for free space and then
// discarded wakes the next sender.
func TestDiscardedSendPassesWake(t *testing.T) {
	tx, rx := channel.New[int](1)
	tx.TrySend(0)
	s1, s2 := tx.Send(1), tx.Send(2)
	var w1, w2 counter
	if _, ok, _ := s1.Poll(cx(&w1)); ok {
		t.Fatal("s1 ready")
	}
	if _, ok, _ := s2.Poll(cx(&w2)); ok {
		t.Fatal("s2 ready")
	}
	rx.TryRecv()
	if w1.n.Load() != 1 || w2.n.Load() != 0 {
		t.Fatalf("wakes after recv: %d %d", w1.n.Load(), w2.n.Load())
	}
	s1.Discard()
	if w2.n.Load() != 1 {
		t.Fatal("discarded send did not pass its wake on")
	}
	if _, ok, err := s2.Poll(cx(&w2)); !ok || err != nil {
		t.Fatalf("s2 = %v %v", err, ok)
	}
	if v, _ := rx.TryRecv(); v != 2 {
		t.Fatalf("received %d, want 2", v)
	}
}

// TestCanceledReceiversOnExecutor: receivers in tasks, some of which give
// up right after being woken; every value is still received.
func TestCanceledReceiversOnExecutor(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	tx, rx := channel.New[int](1)
	const n = 50
	var got atomic.Int32
	var tasks []*smol.Task[struct{}]
	for i := range 2 * n {
		f := rx.Recv()
		polls := 0
		tasks = append(tasks, smol.SpawnOn(ex, smol.PollFn(func(c *smol.Context) (struct{}, bool, error) {
			polls++
			if i%2 == 0 && polls == 2 {
				// Woken (or spuriously polled): give up without looking.
				f.Discard()
				return struct{}{}, true, nil
			}
			_, ok, err := f.Poll(c)
			if !ok {
				return struct{}{}, false, nil
			}
			if err == nil {
				got.Add(1)
			}
			return struct{}{}, true, nil
		})))
	}
	for ex.TryTick() {
	}
	for i := range n {
		if err := tx.TrySend(i); err != nil {
			t.Fatal(err)
		}
		for ex.TryTick() {
		}
	}
	if got.Load() != n {
		t.Fatalf("received %d of %d values", got.Load(), n)
	}
	tx.Close()
	for ex.TryTick() {
	}
	for _, tk := range tasks {
		if !tk.IsFinished() {
			t.Fatal("a receiver was not woken by close")
		}
	}
}

func TestBlockingForms(t *testing.T) {
	tx, rx := channel.New[int](1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer tx.Close()
		for i := range 1000 {
			if err := tx.SendBlocking(i); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for i := range 1000 {
		v, err := rx.RecvBlocking()
		if err != nil || v != i {
			t.Fatalf("got %d %v want %d", v, err, i)
		}
	}
	if _, err := rx.RecvBlocking(); err != channel.ErrClosed {
		t.Fatal(err)
	}
	wg.Wait()
}

func TestContextForms(t *testing.T) {
	tx, rx := channel.New[int](1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := rx.RecvContext(ctx)
		done <- err
	}()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("RecvContext: %v", err)
	}
	tx.TrySend(1)
	if err := tx.SendContext(ctx, 2); err != context.Canceled {
		t.Fatalf("SendContext on full with done ctx: %v", err)
	}
	// A value ready at once wins over a done context.
	if v, err := rx.RecvContext(ctx); err != nil || v != 1 {
		t.Fatalf("RecvContext with value: %v %v", v, err)
	}
	if err := tx.SendContext(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if v, err := smol.Wait(context.Background(), rx.Recv()); err != nil || v != 3 {
		t.Fatalf("Wait(Recv) = %v %v", v, err)
	}
	tx.Close()
	if _, err := smol.Wait(context.Background(), rx.Recv()); err != channel.ErrClosed {
		t.Fatalf("Wait(Recv) on closed: %v", err)
	}
}

func TestZeroAllocs(t *testing.T) {
	tx, rx := channel.New[int](1)
	var s channel.SendFuture[int]
	var r channel.RecvFuture[int]
	noop := cx(smol.NoopWaker)
	allocs := testing.AllocsPerRun(1000, func() {
		tx.TrySend(1)
		rx.TryRecv()
		s.Reset(tx, 2)
		s.Poll(noop)
		r.Reset(rx)
		r.Poll(noop)
		tx.SendBlocking(3)
		rx.RecvBlocking()
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per send/recv round", allocs)
	}
	// Waiting and being woken through reused futures: still nothing.
	allocs = testing.AllocsPerRun(1000, func() {
		r.Reset(rx)
		r.Poll(noop) // pending: listens
		tx.TrySend(1)
		r.Poll(noop)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per waiting receive", allocs)
	}
}
