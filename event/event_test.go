package event_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// counter is a waker that counts its wakes.
type counter struct{ n atomic.Int32 }

func (c *counter) Wake() { c.n.Add(1) }

func poll(l *event.Listener, w smol.Waker) bool {
	_, ok, _ := l.Poll(smol.NewContext(w))
	return ok
}

func TestNotifyNoListenerIsLost(t *testing.T) {
	var e event.Event
	if n := e.Notify(1); n != 0 {
		t.Fatalf("Notify with no listeners notified %d", n)
	}
	l := e.Listen()
	if poll(l, smol.NoopWaker) {
		t.Fatal("a listener registered after Notify saw it")
	}
	l.Discard()
	if e.Listeners() != 0 {
		t.Fatalf("Listeners = %d after Discard", e.Listeners())
	}
}

func TestNotifyCountsNotified(t *testing.T) {
	var e event.Event
	var ws [3]counter
	ls := make([]*event.Listener, 3)
	for i := range ls {
		ls[i] = e.Listen()
		if poll(ls[i], &ws[i]) {
			t.Fatal("ready before notify")
		}
	}
	if n := e.Notify(1); n != 1 {
		t.Fatalf("Notify(1) = %d", n)
	}
	// The first is still notified and unconsumed: Notify(1) adds nothing.
	if n := e.Notify(1); n != 0 {
		t.Fatalf("second Notify(1) = %d, want 0", n)
	}
	if n := e.Notify(2); n != 1 {
		t.Fatalf("Notify(2) = %d, want 1", n)
	}
	if ws[0].n.Load() != 1 || ws[1].n.Load() != 1 || ws[2].n.Load() != 0 {
		t.Fatalf("wakes = %d %d %d", ws[0].n.Load(), ws[1].n.Load(), ws[2].n.Load())
	}
	if n := e.NotifyAdditional(5); n != 1 {
		t.Fatalf("NotifyAdditional(5) = %d, want 1", n)
	}
	for i, l := range ls {
		if !poll(l, smol.NoopWaker) {
			t.Fatalf("listener %d not ready", i)
		}
		if l.Listening() {
			t.Fatalf("listener %d still registered after ready", i)
		}
	}
	if e.Listeners() != 0 {
		t.Fatalf("Listeners = %d", e.Listeners())
	}
}

func TestFIFOOrder(t *testing.T) {
	var e event.Event
	ls := make([]*event.Listener, 5)
	for i := range ls {
		ls[i] = e.Listen()
	}
	for i := range ls {
		e.NotifyAdditional(1)
		for j, l := range ls {
			if l == nil {
				continue
			}
			ready := poll(l, smol.NoopWaker)
			if ready != (j == i) {
				t.Fatalf("after %d notifications listener %d ready=%v", i+1, j, ready)
			}
			if ready {
				ls[j] = nil
			}
		}
	}
}

func TestDiscardPassesNotificationOn(t *testing.T) {
	for _, additional := range []bool{false, true} {
		var e event.Event
		a, b := e.Listen(), e.Listen()
		var wb counter
		poll(b, &wb)
		if additional {
			e.NotifyAdditional(1)
		} else {
			e.Notify(1)
		}
		a.Discard()
		if wb.n.Load() != 1 {
			t.Fatalf("additional=%v: discarded notification not passed on", additional)
		}
		if !poll(b, smol.NoopWaker) {
			t.Fatal("b not ready")
		}
		a.Discard() // a second Discard passes nothing on: b was consumed above
		if wb.n.Load() != 1 {
			t.Fatal("a second Discard passed a notification on again")
		}
	}
}

func TestDiscardUnnotifiedPassesNothing(t *testing.T) {
	var e event.Event
	a, b := e.Listen(), e.Listen()
	var wb counter
	poll(b, &wb)
	a.Discard()
	if wb.n.Load() != 0 || poll(b, smol.NoopWaker) {
		t.Fatal("b notified by a discard")
	}
	b.Discard()
}

func TestListenToReuse(t *testing.T) {
	var e1, e2 event.Event
	var l event.Listener
	l.ListenTo(&e1)
	e1.Notify(1)
	l.ListenTo(&e2) // discards from e1, passing nothing on: nobody listens
	if e1.Listeners() != 0 || e2.Listeners() != 1 {
		t.Fatalf("listeners %d %d", e1.Listeners(), e2.Listeners())
	}
	e2.Notify(1)
	if !poll(&l, smol.NoopWaker) {
		t.Fatal("reused listener not ready")
	}
}

func TestPollUnregisteredPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	var l event.Listener
	poll(&l, smol.NoopWaker)
}

func TestWaitContext(t *testing.T) {
	var e event.Event
	ctx, cancel := context.WithCancel(context.Background())
	l := e.Listen()
	cancel()
	if err := l.WaitContext(ctx); err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
	if e.Listeners() != 0 {
		t.Fatal("listener left registered")
	}
	// Notified before giving up: success.
	l = e.Listen()
	e.Notify(1)
	if err := l.WaitContext(ctx); err != nil {
		t.Fatalf("notified listener: err = %v", err)
	}
}

// TestCheckListenRecheck runs the documented pattern between goroutines:
// every flag set is seen, none is missed between check and listen.
func TestCheckListenRecheck(t *testing.T) {
	const rounds = 2000
	var e event.Event
	var flag atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := int64(1); i <= rounds; i++ {
			for flag.Load() < i {
				l := e.Listen()
				if flag.Load() >= i {
					l.Discard()
					break
				}
				l.Wait()
			}
		}
	}()
	for i := int64(1); i <= rounds; i++ {
		flag.Store(i)
		e.Notify(1)
	}
	wg.Wait()
}

// TestTaskWaits awaits a listener from tasks on the multi-threaded executor.
func TestTaskWaits(t *testing.T) {
	ex := smol.NewExecutor()
	defer ex.Close()
	var e event.Event
	var done atomic.Int32
	tasks := make([]*smol.Task[struct{}], 4)
	for i := range tasks {
		l := e.Listen()
		tasks[i] = smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			if _, ok, _ := l.Poll(cx); !ok {
				return struct{}{}, false, nil
			}
			done.Add(1)
			return struct{}{}, true, nil
		}))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); smol.Run(ex, smol.JoinAll(asFutures(tasks))) }()
	e.Notify(event.All)
	wg.Wait()
	if done.Load() != 4 {
		t.Fatalf("done = %d", done.Load())
	}
}

func asFutures(ts []*smol.Task[struct{}]) []smol.Future[struct{}] {
	fs := make([]smol.Future[struct{}], len(ts))
	for i, t := range ts {
		fs[i] = t
	}
	return fs
}
