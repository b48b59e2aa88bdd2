package event_test

import (
	"fmt"
	"sync/atomic"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// waitFlag is a future that is ready once flag is set. It keeps its
// listener across polls: check, listen, re-check, then wait.
type waitFlag struct {
	flag    *atomic.Bool
	changed *event.Event
	l       event.Listener
}

func (w *waitFlag) Poll(cx *smol.Context) (string, bool, error) {
	for {
		if w.flag.Load() { // check (and re-check after listening)
			w.l.Discard() // no-op unless still registered
			return "ready", true, nil
		}
		if !w.l.Listening() {
			w.l.ListenTo(w.changed) // listen, then loop to re-check
			continue
		}
		if _, ok, _ := w.l.Poll(cx); !ok {
			return "", false, nil // wait: the task's waker is registered
		}
		// Notified: the listener is consumed; loop to check again.
	}
}

// A flag guarded by an Event: the waiter checks, listens, re-checks, then
// waits; the setter stores and then notifies.
func Example() {
	var ready atomic.Bool
	var changed event.Event

	ex := smol.NewLocalExecutor()
	task := smol.SpawnOn(ex, &waitFlag{flag: &ready, changed: &changed})
	ex.TryTick() // the task checks, listens and waits
	fmt.Println("finished before set:", task.IsFinished())

	ready.Store(true)
	changed.Notify(1)
	v, _ := smol.Run(ex, task)
	fmt.Println(v)
	// Output:
	// finished before set: false
	// ready
}

// A goroutine waits with the blocking form.
func ExampleListener_Wait() {
	var ev event.Event
	var value atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if v := value.Load(); v != 0 {
				fmt.Println("got", v)
				return
			}
			l := ev.Listen()
			if value.Load() != 0 {
				l.Discard()
				continue
			}
			l.Wait()
		}
	}()
	value.Store(42)
	ev.Notify(event.All)
	<-done
	// Output: got 42
}
