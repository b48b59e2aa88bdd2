package smol

import (
	"os"
	"time"
)

// Timer is a future that is ready at a deadline, with the deadline's time as
// its value. An interval timer is ready again at each later tick. A Timer
// is registered with the reactor on its first pending poll, so a timer never
// polled costs nothing but its memory; Reset and Stop reuse it without
// allocating. A Timer is awaited by one task at a time.
type Timer struct {
	r      *reactor
	when   int64 // deadline on the reactor clock; noDeadline if stopped
	period int64 // 0 for a one-shot timer
	idx    int   // position in the reactor's heap, -1 if not in it
	waker  Waker // guarded by r.tmu, like when, period and idx
}

// After returns a timer that fires once, d from now.
func After(d time.Duration) *Timer {
	r := mustReactor()
	return &Timer{r: r, when: r.now() + int64(d), idx: -1}
}

// Sleep is After, for code that reads better as a pause.
func Sleep(d time.Duration) *Timer { return After(d) }

// At returns a timer that fires once, at t.
func At(t time.Time) *Timer {
	r := mustReactor()
	return &Timer{r: r, when: r.at(t), idx: -1}
}

// Interval returns a timer that fires every period, first at one period from
// now. Each ready poll consumes one tick. Missed ticks are skipped, not
// replayed: a task that comes back late sees one tick at once, and the next
// tick stays on the original grid (start + k*period), so an interval never
// fires in a burst. Interval panics if period <= 0.
func Interval(period time.Duration) *Timer {
	if period <= 0 {
		panic("smol: Interval: non-positive period")
	}
	r := mustReactor()
	return &Timer{r: r, when: r.now() + int64(period), period: int64(period), idx: -1}
}

// Poll is ready, with the time of the deadline, once the deadline has passed.
func (t *Timer) Poll(cx *Context) (time.Time, bool) {
	r := t.r
	now := r.now()
	r.tmu.Lock()
	defer r.tmu.Unlock()
	if t.when <= now {
		// Due: take it out of the heap. An interval reports its latest due
		// tick, skipping older ones, and moves to the next tick after it.
		fired := t.when
		if t.idx >= 0 {
			r.timers.remove(t)
		}
		t.waker = nil
		if t.period > 0 {
			fired += (now - fired) / t.period * t.period
			t.when = fired + t.period
		} else {
			t.when = noDeadline
		}
		return r.base.Add(time.Duration(fired)), true
	}
	t.waker = cx.Waker()
	if t.idx < 0 && t.when != noDeadline {
		r.timers.push(t)
		// A deadline earlier than the one the driver sleeps until must cut
		// its wait short.
		if r.lock.Load() && t.when < r.deadline.Load() {
			_ = r.p.Notify()
		}
	}
	return time.Time{}, false
}

// Reset makes the timer fire d from now (and then every period, for an
// interval), whether or not it had fired or was stopped. It allocates
// nothing.
func (t *Timer) Reset(d time.Duration) { t.reset(t.r.now() + int64(d)) }

// ResetAt makes the timer fire at tm; see Reset.
func (t *Timer) ResetAt(tm time.Time) { t.reset(t.r.at(tm)) }

func (t *Timer) reset(when int64) {
	r := t.r
	r.tmu.Lock()
	defer r.tmu.Unlock()
	t.when = when
	if t.idx >= 0 {
		r.timers.fix(t.idx)
		if r.lock.Load() && when < r.deadline.Load() {
			_ = r.p.Notify()
		}
	}
}

// Stop disarms the timer: it will not fire until Reset. It reports whether
// the timer was armed, that is, had a deadline that had not yet fired. A
// task awaiting a stopped timer is not woken.
func (t *Timer) Stop() bool {
	r := t.r
	r.tmu.Lock()
	defer r.tmu.Unlock()
	armed := t.idx >= 0 || (t.when != noDeadline && t.when > r.now())
	if t.idx >= 0 {
		r.timers.remove(t)
	}
	t.when, t.waker = noDeadline, nil
	return armed
}

// Discard stops the timer, so a canceled task's timer leaves the reactor's
// heap at once instead of at its deadline.
func (t *Timer) Discard() { t.Stop() }

// Discard stops the timer and discards the awaited future.
func (tf *timeoutFuture[T]) Discard() {
	tf.t.Stop()
	discard(tf.f)
}

// fireTimers removes the due timers from the heap and appends their wakers.
func (r *reactor) fireTimers(ws []Waker) []Waker {
	now := r.now()
	r.tmu.Lock()
	for len(r.timers) > 0 && r.timers[0].when <= now {
		t := r.timers[0]
		r.timers.remove(t)
		if t.waker != nil {
			ws = append(ws, t.waker)
			t.waker = nil
		}
	}
	r.tmu.Unlock()
	return ws
}

func (r *reactor) nextTimer() int64 {
	r.tmu.Lock()
	defer r.tmu.Unlock()
	if len(r.timers) == 0 {
		return noDeadline
	}
	return r.timers[0].when
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

// Result is a value or an error, for futures that can fail.
type Result[T any] struct {
	Value T
	Err   error
}

type timeoutFuture[T any] struct {
	f Future[T]
	t *Timer
}

func (tf *timeoutFuture[T]) Poll(cx *Context) (Result[T], bool) {
	if v, ok := tf.f.Poll(cx); ok {
		tf.t.Stop()
		return Result[T]{Value: v}, true
	}
	if _, ok := tf.t.Poll(cx); ok {
		discard(tf.f)
		return Result[T]{Err: ErrTimeout}, true
	}
	return Result[T]{}, false
}

// Timeout returns a future that awaits f for at most d: it is ready with f's
// value, or with [ErrTimeout] once d has passed and f is still pending. f is
// polled first, so a value ready at the deadline wins. On timeout f is
// discarded if it is a [Discarder]; a task keeps running (cancel it if that
// is wanted).
func Timeout[T any](f Future[T], d time.Duration) Future[Result[T]] {
	return &timeoutFuture[T]{f: f, t: After(d)}
}

// Deadline is [Timeout] with an absolute time.
func Deadline[T any](f Future[T], t time.Time) Future[Result[T]] {
	return &timeoutFuture[T]{f: f, t: At(t)}
}
