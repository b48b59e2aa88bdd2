package smol

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/smolgo/smol/clock"
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

// FuzzTimerHeap drives a timerHeap and a model through the same operations
// and compares them after every step.
//
// The model is a slice of (id, when) pairs kept sorted by when, then id:
// push inserts at the sorted position, remove and re-key delete by id (and
// re-insert), and the minimum is its first element. After each step the
// heap must hold exactly the model's pairs, satisfy the heap order (no
// parent later than its child), and every timer must know its index (-1
// when out of the heap). Pop-min takes h[0] out, which must carry the
// model's smallest deadline.
//
// Input: one byte per operation (op = byte % 4), then its arguments:
// push (a deadline byte; deadlines are 0..31 so that ties are common),
// remove (which live timer), re-key (which live timer, new deadline),
// pop-min.
func FuzzTimerHeap(f *testing.F) {
	f.Add([]byte{0, 5, 0, 3, 0, 9, 0, 3, 3, 3, 3})
	f.Add([]byte{0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 1, 0, 1, 2, 2, 0, 31, 2, 1, 0, 3, 3})
	f.Add([]byte{0, 7, 0, 7, 0, 7, 0, 7, 2, 3, 0, 2, 0, 0, 1, 1, 3, 0, 9, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		type entry struct {
			id   int
			when int64
		}
		var (
			h      timerHeap
			timers []*Timer // every timer made, by id
			model  []entry  // the timers in the heap, sorted by (when, id)
		)
		order := func(a, b entry) int {
			return cmp.Or(cmp.Compare(a.when, b.when), cmp.Compare(a.id, b.id))
		}
		insert := func(e entry) {
			i, _ := slices.BinarySearchFunc(model, e, order)
			model = slices.Insert(model, i, e)
		}
		del := func(id int) {
			model = slices.DeleteFunc(model, func(e entry) bool { return e.id == id })
		}
		for step := 0; !in.done(); step++ {
			var desc string
			switch op := in.intn(4); {
			case op == 0 && len(timers) < 64:
				when := int64(in.intn(32))
				tm := &Timer{when: when, idx: -1}
				h.push(tm)
				timers = append(timers, tm)
				insert(entry{len(timers) - 1, when})
				desc = fmt.Sprintf("push(#%d, %d)", len(timers)-1, when)
			case op == 1 && len(model) > 0:
				e := model[in.intn(len(model))]
				h.remove(timers[e.id])
				del(e.id)
				desc = fmt.Sprintf("remove(#%d)", e.id)
			case op == 2 && len(model) > 0:
				e := model[in.intn(len(model))]
				when := int64(in.intn(32))
				tm := timers[e.id]
				tm.when = when
				h.fix(tm.idx)
				del(e.id)
				insert(entry{e.id, when})
				desc = fmt.Sprintf("rekey(#%d, %d -> %d)", e.id, e.when, when)
			case op == 3 && len(model) > 0:
				tm := h[0]
				if tm.when != model[0].when {
					t.Fatalf("step %d: min of the heap is %d, model's is %d", step, tm.when, model[0].when)
				}
				id := slices.Index(timers, tm)
				h.remove(tm)
				del(id)
				desc = fmt.Sprintf("popmin(#%d, %d)", id, tm.when)
			default:
				continue
			}
			if fuzzTrace {
				t.Logf("step %d: %s; model %v", step, desc, model)
			}
			// Compare: the heap's contents, its order, and the indexes.
			got := make([]entry, 0, len(h))
			for i, tm := range h {
				if tm.idx != i {
					t.Fatalf("step %d, %s: timer at %d has idx %d", step, desc, i, tm.idx)
				}
				if i > 0 && h[(i-1)/2].when > tm.when {
					t.Fatalf("step %d, %s: heap order broken at %d", step, desc, i)
				}
				got = append(got, entry{slices.Index(timers, tm), tm.when})
			}
			slices.SortFunc(got, order)
			if !slices.Equal(got, model) {
				t.Fatalf("step %d, %s: heap holds %v, model %v", step, desc, got, model)
			}
			for id, tm := range timers {
				inModel := slices.ContainsFunc(model, func(e entry) bool { return e.id == id })
				if inModel != (tm.idx >= 0) {
					t.Fatalf("step %d, %s: timer #%d has idx %d, in model: %v", step, desc, id, tm.idx, inModel)
				}
			}
		}
	})
}

// timerModel is the model of one Timer in FuzzTimers. Times are
// nanoseconds since the driver's base (the epoch), as the driver keeps them.
type timerModel struct {
	bound bool
	// Before the first poll: the deadline to be, as a delay from that
	// poll (abs false) or a time (abs true); none when stopped.
	abs   bool
	delay int64 // if !abs
	at    int64 // if abs
	none  bool
	// After it: the deadline, or none.
	deadline int64 // valid if !none
	period   int64 // 0 for a one-shot timer
	waker    int   // the waker of the latest pending poll, -1 if none
}

// FuzzTimers drives real Timers, bound to one driver on a manual clock,
// and a model through the same operations, and compares them after every
// step.
//
// The model is the Timer's documentation written out: each timer has a
// deadline or none; before its first poll the deadline is a delay from
// that poll, or a time (At, ResetAt). A poll binds it, then is ready once
// the deadline has passed (an interval reports its latest due tick, found
// by stepping one period at a time, and moves on to the next tick on the
// grid; a one-shot timer becomes "none"); otherwise it keeps the poll's
// waker. Reset and ResetAt set a new deadline whatever the state, and wake
// a kept waker at once if the deadline has already passed. Stop reports
// whether there was a deadline still in the future (or, before the first
// poll, any deadline), and sets none but keeps the waker: the awaiter
// stays pending until a Reset fires it. Discard is Stop that also forgets
// the waker. Advance moves the clock; every timer with a kept waker and a
// deadline now passed wakes that waker, once, and forgets it.
//
// After each step it compares: the result of the operation (Poll's
// readiness and value, Stop's report), the wake count of each of the four
// wakers, and each timer's state (bound or not, its deadline, so which
// timers a poll would find ready, and its kept waker). Also the driver's
// invariants: its heap holds exactly the bound timers with a deadline and
// a kept waker, all in the future, in heap order; the clock has an alarm
// no later than the earliest of them.
//
// Input: one byte of operation (byte % 8), then its arguments; times are
// in units of 1ms, small so that deadlines and ticks coincide often:
//
//	0 new timer: kind (After d, At t, Interval p), then d, t or p
//	1 poll: timer, waker
//	2 Reset: timer, d in -2..13
//	3 ResetAt: timer, t in now-4..now+11
//	4 Stop: timer
//	5 Discard: timer
//	6 Advance: d in 0..15
//	7 poll (a second opcode, to poll more often)
func FuzzTimers(f *testing.F) {
	// The Stop-then-Reset case: poll, Stop, Advance past, Reset, Advance.
	f.Add([]byte{0, 0, 5, 1, 0, 0, 4, 0, 6, 9, 2, 0, 5, 6, 5, 1, 0, 1})
	// An interval polled late, reset, stopped.
	f.Add([]byte{0, 2, 3, 1, 0, 1, 6, 10, 1, 0, 2, 6, 4, 1, 0, 3, 6, 4, 0, 1, 0, 2, 4, 0, 6, 15, 1, 0, 0, 4, 0, 6, 8, 1, 0, 1})
	// Two timers on one waker, At in the past, Discard of a waiting timer.
	f.Add([]byte{0, 1, 2, 0, 0, 7, 1, 0, 0, 1, 1, 0, 6, 3, 1, 0, 0, 5, 1, 6, 15, 3, 1, 0, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		const unit = int64(time.Millisecond)
		in := &fuzzInput{data}
		clk := clock.NewManual(epoch)
		drv := newDriver(&settings{clock: clk, budget: unlimited})
		var (
			wakers [4]countWaker
			cxs    [4]*Context
			wakes  [4]int32 // the model's count of each waker's wakes
			timers []*Timer
			models []*timerModel
			now    int64 // the model's clock, since epoch
		)
		for i := range cxs {
			cxs[i] = &Context{waker: &wakers[i], drv: drv, budget: unlimited}
		}
		// fire wakes the model timer's kept waker.
		fire := func(m *timerModel) {
			if m.waker >= 0 {
				wakes[m.waker]++
				m.waker = -1
			}
		}
		for step := 0; !in.done(); step++ {
			var desc string
			op := in.intn(8)
			if op != 0 && op != 6 && len(timers) == 0 {
				continue
			}
			pick := func() int { return in.intn(len(timers)) }
			switch op {
			case 0:
				if len(timers) == 8 {
					continue
				}
				kind, arg := in.intn(3), int64(in.intn(16))
				m := &timerModel{waker: -1}
				var tm *Timer
				switch kind {
				case 0:
					tm, m.delay = After(time.Duration(arg*unit)), arg*unit
				case 1:
					tm, m.abs, m.at = At(epoch.Add(time.Duration(arg*unit))), true, arg*unit
				default:
					p := (arg%8 + 1) * unit
					tm, m.delay, m.period = Interval(time.Duration(p)), p, p
				}
				timers, models = append(timers, tm), append(models, m)
				desc = fmt.Sprintf("new #%d kind %d arg %d", len(timers)-1, kind, arg)
			case 1, 7:
				i, w := pick(), in.intn(4)
				m := models[i]
				desc = fmt.Sprintf("poll #%d with waker %d", i, w)
				if !m.bound {
					m.bound = true
					switch {
					case m.none: // stopped before its first poll
					case m.abs:
						m.deadline = m.at
					default:
						m.deadline = now + m.delay
					}
				}
				v, ok, err := timers[i].Poll(cxs[w])
				wantOK := !m.none && m.deadline <= now
				if ok != wantOK || err != nil {
					t.Fatalf("step %d, %s: ready %v (err %v), model says %v", step, desc, ok, err, wantOK)
				}
				if ok {
					fired := m.deadline
					if m.period > 0 {
						for fired+m.period <= now {
							fired += m.period
						}
						m.deadline = fired + m.period
					} else {
						m.none = true
					}
					m.waker = -1
					if want := epoch.Add(time.Duration(fired)); !v.Equal(want) {
						t.Fatalf("step %d, %s: value %v, want %v", step, desc, v, want)
					}
				} else {
					m.waker = w
				}
			case 2, 3:
				i := pick()
				m := models[i]
				var deadline int64
				if op == 2 {
					d := (int64(in.intn(16)) - 2) * unit
					timers[i].Reset(time.Duration(d))
					desc = fmt.Sprintf("Reset(#%d, %v)", i, time.Duration(d))
					m.abs, m.delay, deadline = false, d, now+d
				} else {
					at := now + (int64(in.intn(16))-4)*unit
					timers[i].ResetAt(epoch.Add(time.Duration(at)))
					desc = fmt.Sprintf("ResetAt(#%d, %v)", i, time.Duration(at))
					m.abs, m.at, deadline = true, at, at
				}
				m.none = false
				if m.bound {
					m.deadline = deadline
					if deadline <= now {
						fire(m)
					}
				}
			case 4, 5:
				i := pick()
				m := models[i]
				armed := !m.none
				if m.bound {
					armed = armed && m.deadline > now
				}
				m.none = true
				if op == 4 {
					desc = fmt.Sprintf("Stop(#%d)", i)
					if got := timers[i].Stop(); got != armed {
						t.Fatalf("step %d, %s: reported %v, model says %v", step, desc, got, armed)
					}
				} else {
					desc = fmt.Sprintf("Discard(#%d)", i)
					timers[i].Discard()
					m.waker = -1
				}
			case 6:
				d := int64(in.intn(16)) * unit
				desc = fmt.Sprintf("Advance(%v)", time.Duration(d))
				clk.Advance(time.Duration(d))
				now += d
				for _, m := range models {
					if m.bound && !m.none && m.deadline <= now {
						fire(m)
					}
				}
			}
			if fuzzTrace {
				t.Logf("step %d: %s; now %v", step, desc, time.Duration(now))
			}
			checkTimers(t, fmt.Sprintf("step %d, %s", step, desc), drv, clk, now, timers, models, &wakers, &wakes)
		}
	})
}

// checkTimers compares the timers and the driver with the model; see
// FuzzTimers.
func checkTimers(t *testing.T, where string, drv *Driver, clk *clock.Manual, now int64, timers []*Timer, models []*timerModel, wakers *[4]countWaker, wakes *[4]int32) {
	t.Helper()
	if got := drv.now(); got != now {
		t.Fatalf("%s: clock at %d, model at %d", where, got, now)
	}
	for i := range wakers {
		if got := wakers[i].n.Load(); got != wakes[i] {
			t.Fatalf("%s: waker %d woken %d times, model says %d", where, i, got, wakes[i])
		}
	}
	drv.mu.Lock()
	defer drv.mu.Unlock()
	inHeap := 0
	for i, tm := range timers {
		m := models[i]
		if bound := tm.d.Load() != nil; bound != m.bound {
			t.Fatalf("%s: timer #%d bound %v, model %v", where, i, bound, m.bound)
		}
		if !m.bound {
			continue
		}
		if (tm.when == noDeadline) != m.none || !m.none && tm.when != m.deadline {
			t.Fatalf("%s: timer #%d deadline %d, model %d (none: %v)", where, i, tm.when, m.deadline, m.none)
		}
		// Which timers a poll finds ready: implied by the deadlines, said
		// out loud.
		if ready, want := tm.when <= now, !m.none && m.deadline <= now; ready != want {
			t.Fatalf("%s: timer #%d ready %v, model %v", where, i, ready, want)
		}
		var want Waker
		if m.waker >= 0 {
			want = &wakers[m.waker]
		}
		if tm.waker != want {
			t.Fatalf("%s: timer #%d keeps waker %v, model %d", where, i, tm.waker, m.waker)
		}
		wantInHeap := m.waker >= 0 && !m.none
		if (tm.idx >= 0) != wantInHeap {
			t.Fatalf("%s: timer #%d in the heap: %v, model says %v", where, i, tm.idx >= 0, wantInHeap)
		}
		if wantInHeap {
			inHeap++
			if m.deadline <= now {
				t.Fatalf("%s: timer #%d is due and waits in the heap", where, i)
			}
		}
	}
	h := drv.timers
	if len(h) != inHeap {
		t.Fatalf("%s: heap holds %d timers, model %d", where, len(h), inHeap)
	}
	for i, tm := range h {
		if tm.idx != i || i > 0 && h[(i-1)/2].when > tm.when {
			t.Fatalf("%s: heap broken at %d", where, i)
		}
	}
	if len(h) > 0 {
		next, ok := clk.Next()
		if !ok || next.After(drv.toTime(h[0].when)) {
			t.Fatalf("%s: earliest timer at %v, alarm at %v (set: %v)", where, drv.toTime(h[0].when), next, ok)
		}
	}
}
