package event_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// fuzzInput hands out a fuzz input byte by byte; past its end it reads
// zeros, and done reports when that happened, so a target's loop ends.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) done() bool { return len(in.b) == 0 }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

// intn returns a number in [0, n).
func (in *fuzzInput) intn(n int) int { return int(in.byte()) % n }

// fuzzTrace makes the fuzz targets log every step, to read a failing
// input: SMOL_FUZZ_TRACE=1 go test -run FuzzX/input -v.
var fuzzTrace = os.Getenv("SMOL_FUZZ_TRACE") != ""

// A listener's state in the model of FuzzEvent.
type lstate int

const (
	lIdle      lstate = iota // not registered
	lWaiting                 // registered, not notified
	lNotified                // notified by Notify, not consumed
	lNotifiedA               // notified by NotifyAdditional, not consumed
)

// eventModel is the model of FuzzEvent: for each Event, the listeners
// waiting on it in the order they registered; for each listener, its
// state, its Event and the waker it would wake; for each waker, how many
// times it was woken.
type eventModel struct {
	order [2][]int // per event: waiting listeners, oldest first
	state []lstate
	ev    []int // the event a registered listener belongs to
	waker []int // the waker to wake on notification, -1 if none
	wakes [4]int32
}

// notified counts e's listeners notified and not consumed.
func (m *eventModel) notified(e int) int {
	n := 0
	for i, st := range m.state {
		if m.ev[i] == e && (st == lNotified || st == lNotifiedA) {
			n++
		}
	}
	return n
}

// notifyOldest notifies up to k of e's waiting listeners, oldest first,
// putting them in state st and waking their wakers, and returns how many.
func (m *eventModel) notifyOldest(e, k int, st lstate) int {
	n := 0
	for ; k > 0 && len(m.order[e]) > 0; k-- {
		i := m.order[e][0]
		m.order[e] = m.order[e][1:]
		m.state[i] = st
		if m.waker[i] >= 0 {
			m.wakes[m.waker[i]]++
			m.waker[i] = -1
		}
		n++
	}
	return n
}

// Notify: at least n notified, counting the unconsumed ones.
func (m *eventModel) Notify(e, n int) int {
	if n <= 0 {
		return 0
	}
	return m.notifyOldest(e, n-m.notified(e), lNotified)
}

// NotifyAdditional: n more, among those not notified.
func (m *eventModel) NotifyAdditional(e, n int) int {
	if n <= 0 {
		return 0
	}
	return m.notifyOldest(e, n, lNotifiedA)
}

// Discard: unregister; an unconsumed notification is passed on by
// Notify(1) or NotifyAdditional(1), as it came.
func (m *eventModel) Discard(i int) {
	e, st := m.ev[i], m.state[i]
	m.state[i], m.waker[i] = lIdle, -1
	switch st {
	case lWaiting:
		m.order[e] = slices.DeleteFunc(m.order[e], func(j int) bool { return j == i })
	case lNotified:
		m.Notify(e, 1)
	case lNotifiedA:
		m.NotifyAdditional(e, 1)
	}
}

// Listen: (discard if registered, then) register at the back, waking w
// (-1: none) on notification.
func (m *eventModel) Listen(i, e, w int) {
	m.Discard(i)
	m.state[i], m.ev[i], m.waker[i] = lWaiting, e, w
	m.order[e] = append(m.order[e], i)
}

// FuzzEvent drives two Events, their Listeners and four counting wakers,
// and the model above, through the same operations, and compares them
// after every step.
//
// The model follows the package documentation: listeners are notified
// oldest first; Notify(n) notifies waiting listeners until at least n of
// the Event's listeners are notified and unconsumed, NotifyAdditional(n)
// notifies n waiting ones, both return how many they notified, and n <= 0
// does nothing; a notification wakes the waker of the listener's latest
// poll (or the one given to ListenToWith) once; Poll of a notified
// listener is ready and consumes it, of a waiting one is pending and keeps
// the waker, of an unregistered one panics; Discard passes an unconsumed
// notification on with Notify(1) or NotifyAdditional(1), as it came;
// ListenTo of a registered listener discards it first.
//
// After each step it compares the operation's result (counts returned,
// readiness, panics), each listener's Listening, each Event's Listeners,
// and every waker's wake count.
//
// Input: one byte of operation (byte % 8), then its arguments:
//
//	0 Listen: event (a new listener, at most 10)
//	1 ListenTo: listener, event
//	2 ListenToWith: listener, event, waker
//	3 Notify: event, n (0..4, All, -1)
//	4 NotifyAdditional: event, n (as for Notify)
//	5 Poll: listener, waker
//	6 Discard: listener
//	7 Poll (a second opcode, to poll more often)
func FuzzEvent(f *testing.F) {
	// Three listeners, Notify(1), a discard of the notified one passes on.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 5, 0, 0, 5, 1, 1, 5, 2, 2, 3, 0, 1, 6, 0, 5, 1, 1, 5, 2, 2})
	// NotifyAdditional on top of Notify, then Notify counts the unconsumed.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 1, 4, 0, 1, 3, 0, 2, 3, 0, 3, 6, 1, 6, 0, 5, 2, 3})
	// Two events, re-registering across them, All and -1.
	f.Add([]byte{0, 0, 0, 1, 2, 0, 1, 2, 0, 1, 1, 3, 1, 5, 3, 0, 6, 5, 0, 0, 4, 1, 5, 5, 1, 3, 7, 2, 2, 3, 0, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		var (
			evs    [2]event.Event
			wakers [4]counter
			ls     []*event.Listener
			m      eventModel
		)
		count := func() int {
			switch k := in.intn(7); k {
			case 5:
				return event.All
			case 6:
				return -1
			default:
				return k
			}
		}
		for step := 0; !in.done(); step++ {
			var desc string
			op := in.intn(8)
			if op != 0 && len(ls) == 0 {
				continue
			}
			pick := func() int { return in.intn(len(ls)) }
			switch op {
			case 0:
				if len(ls) == 10 {
					continue
				}
				e := in.intn(2)
				ls = append(ls, evs[e].Listen())
				m.state, m.ev, m.waker = append(m.state, lIdle), append(m.ev, e), append(m.waker, -1)
				m.Listen(len(ls)-1, e, -1)
				desc = fmt.Sprintf("Listen #%d to %d", len(ls)-1, e)
			case 1:
				i, e := pick(), in.intn(2)
				ls[i].ListenTo(&evs[e])
				m.Listen(i, e, -1)
				desc = fmt.Sprintf("ListenTo(#%d, %d)", i, e)
			case 2:
				i, e, w := pick(), in.intn(2), in.intn(4)
				ls[i].ListenToWith(&evs[e], &wakers[w])
				m.Listen(i, e, w)
				desc = fmt.Sprintf("ListenToWith(#%d, %d, waker %d)", i, e, w)
			case 3, 4:
				e, n := in.intn(2), count()
				var got, want int
				if op == 3 {
					desc = fmt.Sprintf("Notify(%d) on %d", n, e)
					got, want = evs[e].Notify(n), m.Notify(e, n)
				} else {
					desc = fmt.Sprintf("NotifyAdditional(%d) on %d", n, e)
					got, want = evs[e].NotifyAdditional(n), m.NotifyAdditional(e, n)
				}
				if got != want {
					t.Fatalf("step %d, %s: returned %d, model %d", step, desc, got, want)
				}
			case 5, 7:
				i, w := pick(), in.intn(4)
				desc = fmt.Sprintf("Poll #%d with waker %d", i, w)
				ready, panicked := pollListener(ls[i], &wakers[w])
				switch st := m.state[i]; st {
				case lIdle:
					if !panicked {
						t.Fatalf("step %d, %s: polling an unregistered listener did not panic", step, desc)
					}
				case lWaiting:
					if panicked || ready {
						t.Fatalf("step %d, %s: ready %v, panicked %v; model: waiting", step, desc, ready, panicked)
					}
					m.waker[i] = w
				default:
					if panicked || !ready {
						t.Fatalf("step %d, %s: ready %v, panicked %v; model: notified", step, desc, ready, panicked)
					}
					m.state[i], m.waker[i] = lIdle, -1
				}
			case 6:
				i := pick()
				desc = fmt.Sprintf("Discard #%d", i)
				ls[i].Discard()
				m.Discard(i)
			}
			if fuzzTrace {
				t.Logf("step %d: %s; waiting %v, states %v", step, desc, m.order, m.state)
			}
			for i, l := range ls {
				if got, want := l.Listening(), m.state[i] != lIdle; got != want {
					t.Fatalf("step %d, %s: listener #%d Listening %v, model %v", step, desc, i, got, want)
				}
			}
			for e := range evs {
				want := len(m.order[e]) + m.notified(e)
				if got := evs[e].Listeners(); got != want {
					t.Fatalf("step %d, %s: event %d has %d listeners, model %d", step, desc, e, got, want)
				}
			}
			for w := range wakers {
				if got := wakers[w].n.Load(); got != m.wakes[w] {
					t.Fatalf("step %d, %s: waker %d woken %d times, model %d", step, desc, w, got, m.wakes[w])
				}
			}
		}
	})
}

// pollListener polls l once with w and reports whether it was ready and
// whether the poll panicked.
func pollListener(l *event.Listener, w smol.Waker) (ready, panicked bool) {
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	_, ready, _ = l.Poll(smol.NewContext(w))
	return ready, false
}
