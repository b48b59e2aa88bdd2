package smol

import (
	"sync"
	"time"

	"github.com/smolgo/smol/clock"
)

// Driver is the time of an executor: its [clock.Clock], the heap of timers
// bound to it, and the size of the cooperative budget its tasks start each
// poll with. Every executor has its own, so executors on different clocks live
// side by side in one process; a poll reaches its executor's driver through
// [Context.Driver]. [BlockOn] and hand-made contexts use the process's
// default driver, on the real clock, unless given [WithClock].
//
// A driver keeps one alarm on its clock (clock.Clock.AfterFunc), armed for its
// earliest timer. When the alarm goes off, the driver wakes the tasks of
// the timers that are due and re-arms for the next one. A driver with no
// timers has no alarm, and costs nothing while idle.
type Driver struct {
	clock  clock.Clock
	base   time.Time // the clock's reading when the driver was made
	budget int32
	local  *LocalExecutor // the LocalExecutor whose driver this is, if one

	// mu guards the heap, the alarm and every bound timer's when, period,
	// idx and waker.
	mu     sync.Mutex
	timers timerHeap
	alarm  clock.Alarm // nil until the first timer waits
	armed  int64       // the deadline the alarm is set for; noDeadline if none
}

// DefaultBudget is how many operations a task's poll may complete before
// they report pending to make it yield (see [Context.Proceed]); it is
// tokio's figure.
const DefaultBudget = 128

const noDeadline = int64(1<<63 - 1)

func newDriver(s *settings) *Driver {
	c := s.clock
	if c == nil {
		c = clock.Real
	}
	return &Driver{clock: c, base: c.Now(), budget: int32(s.budget), armed: noDeadline}
}

var defaultDriver = sync.OnceValue(func() *Driver { return newDriver(&settings{budget: DefaultBudget}) })

// Now returns the current time on the driver's clock.
func (d *Driver) Now() time.Time { return d.clock.Now() }

// LocalExecutor returns the LocalExecutor whose driver d is, or nil if d
// belongs to another kind of executor, to BlockOn or to a hand-made
// context. A poll whose [Context.Driver] reports one runs on the goroutine
// driving that executor, so per-executor state found through it needs no
// lock against the executor's other tasks (smolnet's io_uring rings rely
// on this).
func (d *Driver) LocalExecutor() *LocalExecutor { return d.local }

// Clock returns the driver's clock.
func (d *Driver) Clock() clock.Clock { return d.clock }

// now reads the clock as nanoseconds since base; times on a real clock
// carry a monotonic reading, so this is monotonic.
func (d *Driver) now() int64 { return int64(d.clock.Now().Sub(d.base)) }

// toTime converts a deadline on the driver's clock back to a time.
func (d *Driver) toTime(when int64) time.Time { return d.base.Add(time.Duration(when)) }

// arm sets the alarm for when, which is earlier than the deadline it is
// set for; d.mu is held.
func (d *Driver) arm(when, now int64) {
	d.armed = when
	delay := time.Duration(max(when-now, 0))
	if d.alarm == nil {
		d.alarm = d.clock.AfterFunc(delay, d.fire)
	} else {
		d.alarm.Reset(delay)
	}
}

// fire is the alarm's function: it takes the due timers out of the heap,
// re-arms for the next one and wakes the tasks of the due ones. A stale or
// early alarm only re-arms.
func (d *Driver) fire() {
	var buf [16]Waker
	ws := buf[:0]
	now := d.now()
	d.mu.Lock()
	for len(d.timers) > 0 && d.timers[0].when <= now {
		t := d.timers[0]
		d.timers.remove(t)
		if t.waker != nil {
			ws = append(ws, t.waker)
			t.waker = nil
		}
	}
	d.armed = noDeadline
	if len(d.timers) > 0 {
		d.arm(d.timers[0].when, now)
	}
	d.mu.Unlock()
	// Wake after unlocking: a waker may be the caller's own and reach back
	// into the driver.
	for _, w := range ws {
		w.Wake()
	}
}

// Option configures an executor, and [BlockOn].
type Option struct {
	apply func(*settings)
	// blockOn is false for options that make no sense for BlockOn.
	blockOn bool
}

// settings are what options set.
type settings struct {
	clock   clock.Clock
	budget  int
	onPanic func(*PanicError)
	choose  func(queued []uint32) int
}

func makeSettings(opts []Option, forBlockOn bool) settings {
	s := settings{budget: DefaultBudget}
	if forBlockOn {
		s.budget = unlimited
	}
	for _, o := range opts {
		if forBlockOn && !o.blockOn {
			panic("smol: BlockOn takes WithClock and WithBudget only")
		}
		o.apply(&s)
	}
	return s
}

// WithClock makes an executor, or a BlockOn, keep time by c instead of the
// real clock: its timers, timeouts and intervals fire as c says. Give it a
// [*clock.Manual] to test timing code without sleeping.
func WithClock(c clock.Clock) Option {
	return Option{apply: func(s *settings) { s.clock = c }, blockOn: true}
}

// WithBudget sets how many operations a task may complete in one poll
// before they make it yield (see [Context.Proceed]); the default is
// [DefaultBudget]. It panics if n < 1.
func WithBudget(n int) Option {
	if n < 1 {
		panic("smol: WithBudget: want n >= 1")
	}
	return Option{apply: func(s *settings) { s.budget = min(n, unlimited) }, blockOn: true}
}

// WithScheduler makes a LocalExecutor ask choose which queued task to run
// next, instead of its own order (see [LocalExecutor]): choose gets the
// ids of the queued tasks, oldest first, busy or not (the ids of [TaskInfo], given
// at spawn under a chooser), and returns an index into that slice, which
// it must not keep. It is the hook of deterministic simulation, which
// draws the index from a seeded generator; each task run then costs a walk
// of the queue. An Executor panics if given it.
func WithScheduler(choose func(queued []uint32) int) Option {
	return Option{apply: func(s *settings) { s.choose = choose }}
}

// WithPanicHandler sets the function that receives the panic of a detached
// task. It runs on the goroutine that ran the task, after the task
// finished. The default handler panics with the [*PanicError], which crashes
// the program unless the caller of [Run] recovers.
func WithPanicHandler(h func(*PanicError)) Option {
	return Option{apply: func(s *settings) { s.onPanic = h }}
}
