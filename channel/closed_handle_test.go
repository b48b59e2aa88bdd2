package channel_test

import (
	"errors"
	"testing"

	"github.com/smolgo/smol/channel"
)

// TestClosedHandleRecvStrandsValue (found by FuzzChannel): a receive
// waiting through a handle that is then closed, while a clone keeps the
// channel open, is woken for a value, fails with ErrClosed, and keeps the
// wake: the other waiting receive is never woken and the value stays
// queued. A receive that ends without taking the value it was woken for
// must pass the wake on, as a discarded one does.
func TestClosedHandleRecvStrandsValue(t *testing.T) {
	tx, rx := channel.New[int](1)
	rx2 := rx.Clone()
	r1, r2 := rx.Recv(), rx2.Recv()
	var w1, w2 counter
	if _, ok, _ := r1.Poll(cx(&w1)); ok {
		t.Fatal("r1 ready on an empty channel")
	}
	if _, ok, _ := r2.Poll(cx(&w2)); ok {
		t.Fatal("r2 ready on an empty channel")
	}
	if err := tx.TrySend(42); err != nil {
		t.Fatal(err)
	}
	if w1.n.Load() != 1 || w2.n.Load() != 0 {
		t.Fatalf("wakes after the send: %d, %d; want 1, 0", w1.n.Load(), w2.n.Load())
	}
	rx.Close() // rx2 keeps the channel open
	if _, ok, err := r1.Poll(cx(&w1)); !ok || err != channel.ErrClosed {
		t.Fatalf("r1 through a closed handle: ready %v, %v; want ErrClosed", ok, err)
	}
	if w2.n.Load() != 1 {
		t.Fatalf("r2 woken %d times after r1 failed without the value, want 1 (value stranded, %d queued)", w2.n.Load(), rx2.Len())
	}
	if v, ok, err := r2.Poll(cx(&w2)); !ok || err != nil || v != 42 {
		t.Fatalf("r2: %d, %v, %v; want 42", v, ok, err)
	}
}

// TestClosedHandleSendStrandsSpace (found by FuzzChannel once the receive
// side was set aside; the same path in SendFuture.Poll): a send waiting
// through a sender handle that is then closed, while a clone keeps the
// channel open, is woken for free space, fails with a SendError, and keeps
// the wake: the other waiting send is never woken and the slot stays free.
func TestClosedHandleSendStrandsSpace(t *testing.T) {
	tx, rx := channel.New[int](1)
	tx2 := tx.Clone()
	if err := tx.TrySend(0); err != nil {
		t.Fatal(err)
	}
	s1, s2 := tx.Send(1), tx2.Send(2)
	var w1, w2 counter
	if _, ok, _ := s1.Poll(cx(&w1)); ok {
		t.Fatal("s1 ready on a full channel")
	}
	if _, ok, _ := s2.Poll(cx(&w2)); ok {
		t.Fatal("s2 ready on a full channel")
	}
	if v, err := rx.TryRecv(); err != nil || v != 0 {
		t.Fatalf("TryRecv: %d, %v", v, err)
	}
	if w1.n.Load() != 1 || w2.n.Load() != 0 {
		t.Fatalf("wakes after the receive: %d, %d; want 1, 0", w1.n.Load(), w2.n.Load())
	}
	tx.Close() // tx2 keeps the channel open
	var se *channel.SendError[int]
	if _, ok, err := s1.Poll(cx(&w1)); !ok || !errors.As(err, &se) || se.Value != 1 {
		t.Fatalf("s1 through a closed handle: ready %v, %v; want a SendError holding 1", ok, err)
	}
	if w2.n.Load() != 1 {
		t.Fatalf("s2 woken %d times after s1 failed without the slot, want 1 (slot stranded, %d of 1 queued)", w2.n.Load(), tx2.Len())
	}
	if _, ok, err := s2.Poll(cx(&w2)); !ok || err != nil {
		t.Fatalf("s2: %v, %v; want sent", ok, err)
	}
}
