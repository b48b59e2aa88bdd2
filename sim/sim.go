// Package sim runs concurrent code deterministically: on a simulated
// executor whose choice among ready tasks is drawn from a seed, on a
// virtual clock that jumps to the next deadline whenever every task waits,
// and over a simulated network of hosts with latency and faults that are
// drawn from the same seed. A failing run prints its seed and the command
// that replays it exactly.
//
//	func TestTransfer(t *testing.T) {
//		sim.Test(t, func(s *sim.Sim, co *coro.Co) error {
//			srv := s.Host("server")
//			... // spawn the code under test on s.Executor(), await it
//			return nil
//		}, sim.Seeds(1000))
//	}
//
// Code under test does not change to be tested: it runs as ordinary smol
// tasks (stackless or coroutine) on s.Executor(), and its timers,
// timeouts, intervals, channels and locks work as they do anywhere, on
// the virtual clock. What the simulation cannot see is what runs outside
// its executor: a goroutine of the code's own, the global executor
// (smol.Spawn), the blocking pool, real sockets and real time.Now. Those
// make a run nondeterministic, which the determinism check reports (see
// [Test]).
//
// # Seeds
//
// Seed 0 runs ready tasks in the order they were woken, first woken first
// run (a LocalExecutor does so too, but puts busy tasks behind the others);
// any other seed picks among them at random. [Test] runs a body over
// several seeds: by default seed 1, or the count given with [Seeds]; the
// flags -sim.seed and -sim.count, or the environment variables
// SMOL_SIM_SEED and SMOL_SIM_COUNT, choose them from the command line, the
// way madsim does. -sim.check (SMOL_SIM_CHECK_DETERMINISM=1) runs each seed
// twice and fails at the first divergence of the two traces.
//
// # Failures
//
// A run fails when the body returns an error or panics, when a task
// panics, when every task waits and no timer is pending (a deadlock), or
// when it passes its virtual-time or step limit (a livelock). The report
// names the seed, the virtual time, the replay command, and every live task
// with what it waits on.
package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/clock"
	"github.com/smolgo/smol/coro"
)

// Config sets a run up; the zero Config is usable.
type Config struct {
	// Seed picks the interleaving and the network's faults; 0 is FIFO.
	Seed uint64
	// Start is the virtual clock's reading at the start; zero means
	// 2000-01-01 00:00 UTC, as testing/synctest starts.
	Start time.Time
	// TimeLimit is the virtual time after which the run fails as a
	// livelock; zero means 24 hours.
	TimeLimit time.Duration
	// StepLimit is the number of task polls after which the run fails as
	// a livelock; zero means 10 million.
	StepLimit int
	// FullTrace keeps every line of the trace, as the determinism check
	// needs; otherwise only the last ones are kept, for failure reports.
	FullTrace bool
}

// Sim is one simulated world: an executor, its virtual clock, a seeded
// source of randomness, the simulated network and the trace of the run.
type Sim struct {
	cfg   Config
	clk   *clock.Manual
	ex    *smol.LocalExecutor
	sched *rand.Rand // picks the next task
	rand  *rand.Rand // for the code under test
	nrand *rand.Rand // for the network's latency and faults
	trace []event    // all of it with FullTrace, else a ring of traceTail
	next  int        // the ring's next slot
	steps int
	idle  []smol.Waker // Idle futures waiting for the executor to be idle
	panic *smol.PanicError
	net   *Net
}

// Executor returns the simulation's executor: spawn the code under test
// on it.
func (s *Sim) Executor() *smol.LocalExecutor { return s.ex }

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.clk.Now() }

// Elapsed returns the virtual time since the run started.
func (s *Sim) Elapsed() time.Duration { return s.clk.Now().Sub(s.cfg.Start) }

// Steps returns how many task polls the run has made.
func (s *Sim) Steps() int { return s.steps }

// Seed returns the run's seed.
func (s *Sim) Seed() uint64 { return s.cfg.Seed }

// Rand returns the run's seeded source of randomness, for the code under
// test and the test itself: it replays with the seed, as nothing else
// random does.
func (s *Sim) Rand() *rand.Rand { return s.rand }

// event is one line of the trace, kept compact: it is made at every step,
// and formatted only when shown.
type event struct {
	at   time.Duration
	kind byte // 'r' a task ran, 'j' the clock jumped, 't' text
	a, b int64
	text string
}

func (e event) String() string {
	at := fmt.Sprintf("%-12s ", "+"+e.at.String())
	switch e.kind {
	case 'r':
		return at + fmt.Sprintf("run task %d (%d ready)", e.a, e.b)
	case 'j':
		return at + "clock jumps to +" + time.Duration(e.a).String()
	}
	return at + e.text
}

func (s *Sim) record(e event) {
	e.at = s.Elapsed()
	switch {
	case s.cfg.FullTrace || len(s.trace) < traceTail:
		s.trace = append(s.trace, e)
	default:
		s.trace[s.next] = e
		s.next = (s.next + 1) % traceTail
	}
}

// Tracef adds a line of the test's own to the run's trace, which the
// determinism check compares and a failure report ends with.
func (s *Sim) Tracef(format string, args ...any) {
	s.record(event{kind: 't', text: fmt.Sprintf(format, args...)})
}

// Trace returns the lines of the run's trace, oldest first: which task ran
// at each step, the clock's jumps, the network's events and the test's own
// lines. Without Config.FullTrace it holds the last few only.
func (s *Sim) Trace() []string {
	out := make([]string, 0, len(s.trace))
	for i := range s.trace {
		out = append(out, s.trace[(s.next+i)%len(s.trace)].String())
	}
	return out
}

type idleFuture struct {
	s     *Sim
	woken bool
}

func (f *idleFuture) Poll(cx *smol.Context) (struct{}, bool, error) {
	if f.woken {
		return struct{}{}, true, nil
	}
	f.woken = true // the next poll is the harness's wake
	f.s.idle = append(f.s.idle, cx.Waker())
	cx.WaitingOn(f, smol.WaitOther)
	return struct{}{}, false, nil
}

func (f *idleFuture) String() string { return "the simulation to be idle" }

// Idle returns a future that is ready once every other task waits: the
// moment before the virtual clock would move. Await it to let the code
// under test run until it is idle.
func (s *Sim) Idle() smol.Future[struct{}] { return &idleFuture{s: s} }

// Failure is the error of a run that did not complete.
type Failure struct {
	Seed   uint64
	Reason string        // "deadlock", "time limit", "step limit", "panic", "error"
	Err    error         // the body's error, or the panic as a *smol.PanicError
	At     time.Duration // virtual time since the start
	Steps  int
	Tasks  []smol.TaskInfo // the live tasks when the run stopped
	Trace  []string        // the last lines of the trace
}

func (f *Failure) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sim: seed %d: %s at +%v after %d steps", f.Seed, f.Reason, f.At, f.Steps)
	if f.Err != nil {
		fmt.Fprintf(&b, ": %v", f.Err)
	}
	if len(f.Tasks) > 0 {
		fmt.Fprintf(&b, "\nlive tasks:")
		for _, ti := range f.Tasks {
			fmt.Fprintf(&b, "\n  %v", ti)
		}
	}
	if len(f.Trace) > 0 {
		fmt.Fprintf(&b, "\nlast steps of the trace:\n%s", strings.Join(f.Trace, "\n"))
	}
	return b.String()
}

// Unwrap returns the body's error or the panic.
func (f *Failure) Unwrap() error { return f.Err }

// traceTail is how many trace lines a Failure keeps.
const traceTail = 30

// Run runs body as a coroutine task on a new simulation with cfg, until
// body returns, and returns the simulation (for its trace, clock and
// counts) and nil, or a *Failure. The other tasks still live when body
// returns are canceled (their deferred calls run) before Run returns.
func Run(cfg Config, body func(s *Sim, co *coro.Co) error) (*Sim, error) {
	if cfg.Start.IsZero() {
		cfg.Start = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if cfg.TimeLimit == 0 {
		cfg.TimeLimit = 24 * time.Hour
	}
	if cfg.StepLimit == 0 {
		cfg.StepLimit = 10_000_000
	}
	s := &Sim{
		cfg:   cfg,
		clk:   clock.NewManual(cfg.Start),
		sched: rand.New(rand.NewPCG(cfg.Seed, 0x5eed)),
		rand:  rand.New(rand.NewPCG(cfg.Seed, 0xda7a)),
		nrand: rand.New(rand.NewPCG(cfg.Seed, 0x7e7)),
	}
	s.ex = smol.NewLocalExecutor(
		smol.WithClock(s.clk),
		smol.WithScheduler(s.choose),
		smol.WithPanicHandler(func(p *smol.PanicError) {
			if s.panic == nil {
				s.panic = p
			}
		}),
	)
	s.net = newNet(s)
	defer s.ex.Close()
	main := coro.Spawn(s.ex, func(co *coro.Co) (struct{}, error) { return struct{}{}, body(s, co) })
	return s, s.loop(main)
}

// choose picks the next task: the oldest under seed 0, else one at random.
func (s *Sim) choose(ids []uint32) int {
	i := 0
	if s.cfg.Seed != 0 {
		i = s.sched.IntN(len(ids))
	}
	s.steps++
	s.record(event{kind: 'r', a: int64(ids[i]), b: int64(len(ids))})
	return i
}

// loop runs the simulation until main is done or the run fails.
func (s *Sim) loop(main *smol.Task[struct{}]) (err error) {
	fail := func(reason string, err error) *Failure {
		f := &Failure{Seed: s.cfg.Seed, Reason: reason, Err: err, At: s.Elapsed(), Steps: s.steps, Tasks: s.ex.Tasks()}
		tr := s.Trace()
		f.Trace = tr[max(len(tr)-traceTail, 0):]
		return f
	}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*smol.PanicError)
			if !ok {
				pe = &smol.PanicError{Value: r}
			}
			err = fail("panic", pe)
		}
	}()
	for {
		// Run every ready task, one pick at a time.
		for s.ex.TryTick() {
			if s.panic != nil {
				return fail("panic", s.panic)
			}
			if s.steps > s.cfg.StepLimit {
				return fail("step limit", fmt.Errorf("more than %d task polls", s.cfg.StepLimit))
			}
		}
		if main.IsFinished() {
			if _, err := smol.BlockOn(main); err != nil {
				return fail("error", err)
			}
			return nil
		}
		// Nothing is ready. Idle futures go first; then time moves to
		// the next deadline; with none, nothing can ever happen again.
		if len(s.idle) > 0 {
			ws := s.idle
			s.idle = nil
			for _, w := range ws {
				w.Wake()
			}
			continue
		}
		next, ok := s.clk.Next()
		if !ok {
			return fail("deadlock", errors.New("every task waits and no timer is pending"))
		}
		if next.Sub(s.cfg.Start) > s.cfg.TimeLimit {
			return fail("time limit", fmt.Errorf("the next deadline is past the virtual-time limit of %v", s.cfg.TimeLimit))
		}
		if next.After(s.clk.Now()) {
			s.record(event{kind: 'j', a: int64(next.Sub(s.cfg.Start))})
		}
		s.clk.AdvanceTo(next)
	}
}
