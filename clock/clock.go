// Package clock is time as an executor of github.com/smolgo/smol sees
// it: a [Clock] that tells the time and sets alarms. [Real] is the
// machine's clock, every executor's unless smol.WithClock gives another;
// [Manual] stands still until a test moves it, so that timing code is
// tested without sleeping. A virtual clock for simulation, one that jumps
// to its next alarm whenever its executor is idle, is a Manual moved by
// its harness (see [Manual.Next]).
package clock

import (
	"slices"
	"sync"
	"time"
)

// Clock is the time source of an executor's driver (smol.Driver). The
// real clock is the default; smol.WithClock gives an executor another,
// such as a [*Manual] in a test.
//
// A driver reads Now on every timer operation and keeps one alarm made by
// AfterFunc, which it resets to its earliest deadline; the alarm's function
// wakes the due timers' tasks. A Clock must be safe for concurrent use, and
// must not call an alarm's function while holding a lock that Now,
// AfterFunc, Reset or Stop take: the function calls them.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc arranges for f to be called, on any goroutine, once d
	// has passed on this clock, and returns the alarm, which can be reset
	// and stopped as a *time.Timer can.
	AfterFunc(d time.Duration, f func()) Alarm
}

// Alarm is an alarm made by [Clock.AfterFunc]. *time.Timer implements it.
type Alarm interface {
	// Reset makes the alarm go off d from now, whether or not it had gone
	// off or been stopped; it reports whether it was pending.
	Reset(d time.Duration) bool
	// Stop cancels the alarm; it reports whether it was pending.
	Stop() bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Alarm { return time.AfterFunc(d, f) }

// Real is the monotonic clock of the machine: time.Now and time.AfterFunc.
// It is every executor's clock unless smol.WithClock says otherwise.
var Real Clock = realClock{}

// Manual is a [Clock] that stands still until a test moves it with
// [Manual.Advance] or [Manual.AdvanceTo]; alarms that come due go off
// during that call, on the caller's goroutine, in deadline order (ties in
// the order they were set), with Now reading each alarm's deadline as it
// goes off. A test drives an executor on a Manual clock like this:
//
//	clk := clock.NewManual(time.Time{})
//	ex := smol.NewLocalExecutor(smol.WithClock(clk))
//	task := smol.SpawnOn(ex, smol.Sleep(time.Hour))
//	for ex.TryTick() {} // the task waits on its timer
//	clk.Advance(time.Hour) // the timer fires and wakes the task
//	for ex.TryTick() {} // the task finishes
//
// The zero value is not usable; use [NewManual].
type Manual struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	alarms []*manualAlarm // pending, unordered
}

type manualAlarm struct {
	c    *Manual
	f    func()
	when time.Time
	seq  uint64 // the order alarms were set in, to break ties
	on   bool   // pending: in c.alarms; guarded by c.mu
}

// NewManual returns a clock that reads start until it is advanced.
func NewManual(start time.Time) *Manual { return &Manual{now: start} }

// Now returns the clock's current time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc arranges for f to be called once the clock has been advanced
// by d or more.
func (c *Manual) AfterFunc(d time.Duration, f func()) Alarm {
	a := &manualAlarm{c: c, f: f}
	a.Reset(d)
	return a
}

func (a *manualAlarm) Reset(d time.Duration) bool {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	was := a.on
	c.seq++
	a.when, a.seq = c.now.Add(d), c.seq
	if !a.on {
		a.on = true
		c.alarms = append(c.alarms, a)
	}
	return was
}

func (a *manualAlarm) Stop() bool {
	c := a.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unlink(a)
}

// unlink removes a from the pending alarms; c.mu is held.
func (c *Manual) unlink(a *manualAlarm) bool {
	if !a.on {
		return false
	}
	a.on = false
	c.alarms = slices.DeleteFunc(c.alarms, func(x *manualAlarm) bool { return x == a })
	return true
}

// Advance moves the clock forward by d, setting off every alarm that comes
// due on the way; see [Manual]. It panics if d < 0.
func (c *Manual) Advance(d time.Duration) {
	if d < 0 {
		panic("smol: Manual.Advance: negative duration")
	}
	c.AdvanceTo(c.Now().Add(d))
}

// AdvanceTo moves the clock forward to t, setting off every alarm due by
// then; a t before the current time leaves the clock where it is and sets
// off nothing new. Alarms set by the functions it calls, if due by t, go
// off in the same call.
func (c *Manual) AdvanceTo(t time.Time) {
	for {
		c.mu.Lock()
		var next *manualAlarm
		for _, a := range c.alarms {
			if !a.when.After(t) && (next == nil || a.when.Before(next.when) || a.when.Equal(next.when) && a.seq < next.seq) {
				next = a
			}
		}
		if next == nil {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		c.unlink(next)
		if next.when.After(c.now) {
			c.now = next.when
		}
		c.mu.Unlock()
		next.f()
	}
}

// Next reports the deadline of the earliest pending alarm, and false if
// there is none: a virtual clock advances to it when its executor is idle.
func (c *Manual) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for i, a := range c.alarms {
		if i == 0 || a.when.Before(next) {
			next = a.when
		}
	}
	return next, len(c.alarms) > 0
}
