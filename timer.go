package smol

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Timer is a future that is ready at a deadline, with the deadline's time as
// its value; an interval timer is ready again at each later tick.
//
// A timer keeps the time of the driver that first polls it (see [Driver]):
// it binds to that driver then, and a deadline given as a duration (After,
// Sleep, Interval, Reset) counts from that first poll. A timer never
// polled costs nothing but its memory. Reset and Stop reuse a timer
// without allocating, and may be called from any goroutine. A Timer is
// awaited by one task at a time.
type Timer struct {
	d atomic.Pointer[Driver] // nil until the first poll binds the timer

	// mu guards the fields below while the timer is unbound; once it is
	// bound, d.mu guards them.
	mu     sync.Mutex
	when   int64     // bound: the deadline on d's clock, noDeadline if disarmed; unbound: the delay from the first poll
	at     time.Time // unbound, if abs: the deadline
	abs    bool      // unbound: the deadline is at, not a delay
	period int64     // 0 for a one-shot timer
	idx    int       // position in d's heap, -1 if not in it
	waker  Waker     // the waker of the latest pending poll
}

// After returns a timer that fires once, d after its first poll.
func After(d time.Duration) *Timer { return &Timer{when: int64(d), idx: -1} }

// Sleep is After, for code that reads better as a pause.
func Sleep(d time.Duration) *Timer { return After(d) }

// At returns a timer that fires once, when its driver's clock reads t.
func At(t time.Time) *Timer { return &Timer{at: t, abs: true, idx: -1} }

// Interval returns a timer that fires every period, first at one period
// after its first poll. Each ready poll consumes one tick. Missed ticks are
// skipped, not replayed: a task that comes back late sees one tick at once,
// and the next tick stays on the original grid (start + k*period), so an
// interval never fires in a burst. Interval panics if period <= 0.
func Interval(period time.Duration) *Timer {
	if period <= 0 {
		panic("smol: Interval: non-positive period")
	}
	return &Timer{when: int64(period), period: int64(period), idx: -1}
}

// bind returns the timer's driver, binding it to cx's driver if it has
// none: its deadline moves onto that driver's clock.
func (t *Timer) bind(cx *Context) *Driver {
	if d := t.d.Load(); d != nil {
		return d
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if d := t.d.Load(); d != nil {
		return d
	}
	d := cx.drv
	if t.abs {
		t.when = int64(t.at.Sub(d.base))
	} else if t.when != noDeadline {
		t.when += d.now()
	}
	t.at = time.Time{}
	t.d.Store(d)
	return d
}

// Poll is ready, with the time of the deadline, once the deadline has passed.
func (t *Timer) Poll(cx *Context) (time.Time, bool, error) {
	d := t.bind(cx)
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if t.when <= now {
		// Due: take it out of the heap. An interval reports its latest due
		// tick, skipping older ones, and moves to the next tick after it.
		fired := t.when
		if t.idx >= 0 {
			d.timers.remove(t)
		}
		t.waker = nil
		if t.period > 0 {
			fired += (now - fired) / t.period * t.period
			t.when = fired + t.period
		} else {
			t.when = noDeadline
		}
		return d.toTime(fired), true, nil
	}
	t.waker = cx.Waker()
	d.schedule(t, now)
	cx.WaitingOn(t, WaitTimer)
	return time.Time{}, false, nil
}

// schedule puts an armed timer that has a waiter in the heap, and brings
// the alarm forward if the timer is the earliest; d.mu is held.
func (d *Driver) schedule(t *Timer, now int64) {
	if t.when == noDeadline || t.waker == nil {
		return
	}
	if t.idx < 0 {
		d.timers.push(t)
	} else {
		d.timers.fix(t.idx)
	}
	if t.when < d.armed {
		d.arm(t.when, now)
	}
}

// Reset makes the timer fire d from now (and then every period, for an
// interval), whether or not it had fired or was stopped; a task awaiting
// it is woken then. On a timer not yet polled, "now" is its first poll. It
// allocates nothing.
func (t *Timer) Reset(d time.Duration) {
	t.reset(false, int64(d), time.Time{})
}

// ResetAt makes the timer fire when its driver's clock reads tm; see Reset.
func (t *Timer) ResetAt(tm time.Time) { t.reset(true, 0, tm) }

func (t *Timer) reset(abs bool, delay int64, at time.Time) {
	d := t.d.Load()
	if d == nil {
		t.mu.Lock()
		if d = t.d.Load(); d == nil {
			t.abs, t.when, t.at = abs, delay, at
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
	}
	now := d.now()
	d.mu.Lock()
	if abs {
		t.when = int64(at.Sub(d.base))
	} else {
		t.when = now + delay
	}
	if t.when <= now && t.waker != nil {
		// Already due: wake the waiter now rather than through the alarm,
		// once the lock is released (a waker may reach back in).
		w := t.waker
		t.waker = nil
		if t.idx >= 0 {
			d.timers.remove(t)
		}
		d.mu.Unlock()
		w.Wake()
		return
	}
	d.schedule(t, now)
	d.mu.Unlock()
}

// Stop disarms the timer: it will not fire until Reset. It reports whether
// the timer was armed, that is, had a deadline that had not yet fired. A
// task awaiting a stopped timer stays pending until a Reset fires it.
func (t *Timer) Stop() bool { return t.stop(false) }

func (t *Timer) stop(forget bool) bool {
	d := t.d.Load()
	if d == nil {
		t.mu.Lock()
		if d = t.d.Load(); d == nil {
			armed := t.abs || t.when != noDeadline
			t.abs, t.when = false, noDeadline
			t.mu.Unlock()
			return armed
		}
		t.mu.Unlock()
	}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	armed := t.when != noDeadline && t.when > now
	if t.idx >= 0 {
		d.timers.remove(t)
	}
	t.when = noDeadline
	if forget {
		t.waker = nil
	}
	return armed
}

// Discard stops the timer and forgets its waiter, so a canceled task's
// timer leaves its driver's heap at once instead of at its deadline.
func (t *Timer) Discard() { t.stop(true) }

// String describes the timer for task dumps: its deadline, relative to
// its driver's clock.
func (t *Timer) String() string {
	d := t.d.Load()
	if d == nil {
		return "timer (never polled)"
	}
	now := d.now()
	d.mu.Lock()
	when := t.when
	d.mu.Unlock()
	if when == noDeadline {
		return "timer (stopped)"
	}
	return "timer at " + d.toTime(when).Format("15:04:05.000000") + " (in " + time.Duration(when-now).String() + ")"
}

// timerHeap is a binary min-heap on when; each timer knows its index, so
// removal and re-keying are O(log n).
type timerHeap []*Timer

func (h *timerHeap) push(t *Timer) {
	t.idx = len(*h)
	*h = append(*h, t)
	h.up(t.idx)
}

func (h *timerHeap) remove(t *Timer) {
	i, last := t.idx, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	t.idx = -1
	if i != last {
		h.fix(i)
	}
}

func (h timerHeap) fix(i int) {
	if !h.up(i) {
		h.down(i)
	}
}

func (h timerHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

func (h timerHeap) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if h[p].when <= h[i].when {
			break
		}
		h.swap(i, p)
		i, moved = p, true
	}
	return moved
}

func (h timerHeap) down(i int) {
	for {
		c := 2*i + 1
		if c >= len(h) {
			return
		}
		if c+1 < len(h) && h[c+1].when < h[c].when {
			c++
		}
		if h[i].when <= h[c].when {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// ErrTimeout is the error of a [Timeout] or [Deadline] whose time ran out.
// It reports Timeout() == true and matches os.ErrDeadlineExceeded with
// errors.Is, like the errors of net deadlines.
var ErrTimeout error = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string        { return "smol: timed out" }
func (timeoutError) Timeout() bool        { return true }
func (timeoutError) Temporary() bool      { return true }
func (timeoutError) Is(target error) bool { return target == os.ErrDeadlineExceeded }

type timeoutFuture[T any] struct {
	f Future[T]
	t Timer
}

func (tf *timeoutFuture[T]) Poll(cx *Context) (T, bool, error) {
	if v, ok, err := tf.f.Poll(cx); ok {
		tf.t.Discard()
		return v, true, err
	}
	if _, ok, _ := tf.t.Poll(cx); ok {
		Discard(tf.f)
		var zero T
		return zero, true, ErrTimeout
	}
	return *new(T), false, nil
}

// Discard stops the timer and discards the awaited future.
func (tf *timeoutFuture[T]) Discard() {
	tf.t.Discard()
	Discard(tf.f)
}

// Timeout returns a future that awaits f for at most d, counted from its
// first poll: it is ready with f's value and error, or fails with
// [ErrTimeout] once d has passed and f is still pending. f is polled
// first, so a value ready at the deadline wins. On timeout f is discarded
// if it is a [Discarder]; a task keeps running (cancel it if that is
// wanted).
func Timeout[T any](f Future[T], d time.Duration) Future[T] {
	return &timeoutFuture[T]{f: f, t: Timer{when: int64(d), idx: -1}}
}

// Deadline is [Timeout] with a time on the driver's clock.
func Deadline[T any](f Future[T], t time.Time) Future[T] {
	return &timeoutFuture[T]{f: f, t: Timer{at: t, abs: true, idx: -1}}
}
