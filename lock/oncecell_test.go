package lock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
)

// slowInit is an init future: pending for a few polls, then ready with v
// (or failing with err, reported through Err).
type slowInit struct {
	polls     int
	v         int
	err       error
	discarded *atomic.Bool
}

func (s *slowInit) Poll(cx *smol.Context) (int, bool, error) {
	if s.polls > 0 {
		s.polls--
		cx.Waker().Wake()
		return 0, false, nil
	}
	if s.err != nil {
		return 0, true, s.err
	}
	return s.v, true, nil
}

func (s *slowInit) Discard() {
	if s.discarded != nil {
		s.discarded.Store(true)
	}
}

func TestOnceCellInitOnce(t *testing.T) {
	var c lock.OnceCell[int]
	var inits atomic.Int32
	var got [10]int
	var fs []smol.Future[struct{}]
	for i := range got {
		fs = append(fs, smol.Map(c.GetOrInit(func() smol.Future[int] {
			inits.Add(1)
			return &slowInit{polls: 3, v: 42}
		}), func(v int) struct{} { got[i] = v; return struct{}{} }))
	}
	var wg sync.WaitGroup
	var blockingGot [4]int
	for i := range blockingGot {
		wg.Add(1)
		go func() {
			defer wg.Done()
			blockingGot[i], _ = c.GetOrInitBlocking(func() (int, error) { inits.Add(1); return 42, nil })
		}()
	}
	runTasks(t, fs...)
	wg.Wait()
	if inits.Load() != 1 {
		t.Fatalf("initialized %d times", inits.Load())
	}
	for i, v := range append(got[:], blockingGot[:]...) {
		if v != 42 {
			t.Fatalf("caller %d got %d", i, v)
		}
	}
	if v, ok := c.Get(); !ok || v != 42 || !c.IsSet() || c.Set(1) {
		t.Fatal("Get/IsSet/Set after init")
	}
}

// TestOnceCellFailedInitRetries: the first initializer fails with an
// error; its caller sees the error, and a waiting caller initializes.
func TestOnceCellFailedInitRetries(t *testing.T) {
	var c lock.OnceCell[int]
	boom := errors.New("boom")
	a := c.GetOrInit(func() smol.Future[int] { return &slowInit{polls: 1, err: boom} })
	b := c.GetOrInit(func() smol.Future[int] { return &slowInit{v: 7} })
	var wa, wb counter
	if _, ok, _ := a.Poll(cx(&wa)); ok {
		t.Fatal("a ready early")
	}
	if _, ok, _ := b.Poll(cx(&wb)); ok {
		t.Fatal("b ready while a initializes")
	}
	if v, ok, err := a.Poll(cx(&wa)); !ok || v != 0 || err != boom {
		t.Fatalf("a = %v %v %v", v, ok, err)
	}
	if wb.take() != 1 {
		t.Fatal("failed init did not wake the waiter")
	}
	if v, ok, err := b.Poll(cx(&wb)); !ok || v != 7 || err != nil {
		t.Fatalf("b = %v %v %v", v, ok, err)
	}
	if v, _ := c.Get(); v != 7 {
		t.Fatal("cell not set by the retry")
	}
}

// TestOnceCellCanceledInitRetries: the initializer's future is discarded
// mid-initialization; the init future is discarded and a waiter takes
// over.
func TestOnceCellCanceledInitRetries(t *testing.T) {
	var c lock.OnceCell[int]
	var discarded atomic.Bool
	a := c.GetOrInit(func() smol.Future[int] { return &slowInit{polls: 5, discarded: &discarded} })
	b := c.GetOrInit(func() smol.Future[int] { return &slowInit{v: 9} })
	var wb counter
	a.Poll(noop)
	b.Poll(cx(&wb))
	a.Discard()
	if !discarded.Load() {
		t.Fatal("init future not discarded")
	}
	if wb.take() != 1 {
		t.Fatal("canceled init did not wake the waiter")
	}
	if v, ok, _ := b.Poll(cx(&wb)); !ok || v != 9 {
		t.Fatalf("b = %v %v", v, ok)
	}
}

// TestOnceCellPanicRetries: an init future that panics leaves the cell
// empty for the next caller.
func TestOnceCellPanicRetries(t *testing.T) {
	var c lock.OnceCell[int]
	a := c.GetOrInit(func() smol.Future[int] {
		return smol.PollFn(func(*smol.Context) (int, bool, error) { panic("init panicked") })
	})
	mustPanic(t, "panicking init", func() { a.Poll(noop) })
	b := c.GetOrInit(func() smol.Future[int] { panic("init itself panicked") })
	mustPanic(t, "panicking init func", func() { b.Poll(noop) })
	if v, err := c.GetOrInitBlocking(func() (int, error) { return 3, nil }); err != nil || v != 3 {
		t.Fatalf("after panic: %v %v", v, err)
	}
}

func TestOnceCellBlockingErrorAndContext(t *testing.T) {
	var c lock.OnceCell[string]
	boom := errors.New("boom")
	if _, err := c.GetOrInitBlocking(func() (string, error) { return "", boom }); err != boom {
		t.Fatalf("err = %v", err)
	}
	// A caller waiting on an initializer gives up with its context.
	start, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.GetOrInitBlocking(func() (string, error) { close(start); <-release; return "ok", nil })
	}()
	<-start
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.GetOrInitContext(ctx, nil); err != context.Canceled {
		t.Fatalf("GetOrInitContext = %v", err)
	}
	close(release)
	wg.Wait()
	if v, err := c.GetOrInitContext(ctx, nil); err != nil || v != "ok" {
		t.Fatalf("after init: %v %v", v, err)
	}
}
