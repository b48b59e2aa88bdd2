package sim

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/smolgo/smol/coro"
)

// The command line: flags of the test binary, or environment variables.
var (
	flagSeed  = flag.String("sim.seed", "", "sim: the first seed to run (env SMOL_SIM_SEED); 0 is FIFO")
	flagCount = flag.Int("sim.count", 0, "sim: how many seeds to run, from the first one up (env SMOL_SIM_COUNT)")
	flagCheck = flag.Bool("sim.check", false, "sim: run each seed twice and fail at the first divergence (env SMOL_SIM_CHECK_DETERMINISM=1)")
)

// Option changes how [Test] runs.
type Option func(*options)

type options struct {
	seed  uint64
	count int
	check bool
	cfg   Config
}

// Seeds makes Test run n seeds, from the first seed up, unless the command
// line says how many.
func Seeds(n int) Option { return func(o *options) { o.count = n } }

// FirstSeed makes Test start at seed instead of 1, unless the command line
// says otherwise.
func FirstSeed(seed uint64) Option { return func(o *options) { o.seed = seed } }

// WithConfig runs Test's simulations with cfg (its Seed is ignored: Test
// sets it).
func WithConfig(cfg Config) Option { return func(o *options) { o.cfg = cfg } }

// CheckDeterminism makes Test run each seed twice and compare the traces,
// as -sim.check does.
func CheckDeterminism() Option { return func(o *options) { o.check = true } }

// Test runs body on a fresh simulation for each seed (by default seed 1;
// see [Seeds] and the package documentation for the command line), and
// fails t at the first seed whose run fails, with the report and the
// command that replays that seed alone. Each seed is a subtest named
// "seed=N".
func Test(t *testing.T, body func(s *Sim, co *coro.Co) error, opts ...Option) {
	t.Helper()
	o := options{seed: 1, count: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.fromCommandLine(); err != nil {
		t.Fatal(err)
	}
	for seed := o.seed; seed < o.seed+uint64(o.count); seed++ {
		cfg := o.cfg
		cfg.Seed, cfg.FullTrace = seed, cfg.FullTrace || o.check
		_, err := Run(cfg, body)
		if err == nil && o.check {
			err = CheckSame(cfg, body)
		}
		if err != nil {
			t.Fatalf("%v\n\nreplay this seed alone:\n  %s", err, replay(t, seed))
		}
	}
}

// fromCommandLine applies the flags, or else the environment variables.
func (o *options) fromCommandLine() error {
	seed, count, check := *flagSeed, *flagCount, *flagCheck
	if seed == "" {
		seed = os.Getenv("SMOL_SIM_SEED")
	}
	if count == 0 {
		if c := os.Getenv("SMOL_SIM_COUNT"); c != "" {
			n, err := strconv.Atoi(c)
			if err != nil || n < 1 {
				return fmt.Errorf("sim: SMOL_SIM_COUNT=%q: want a positive integer", c)
			}
			count = n
		}
	}
	check = check || os.Getenv("SMOL_SIM_CHECK_DETERMINISM") == "1"
	if seed != "" {
		n, err := strconv.ParseUint(seed, 10, 64)
		if err != nil {
			return fmt.Errorf("sim: seed %q: want an unsigned integer", seed)
		}
		o.seed = n
		o.count = 1 // a seed from the command line replays that seed...
	}
	if count > 0 {
		o.count = count // ...unless a count says how many from there
	}
	o.check = o.check || check
	return nil
}

// CheckSame runs cfg's seed twice and compares the two traces: it returns
// the first divergence, naming the step, if the run is not deterministic,
// and the run's own failure if it fails.
func CheckSame(cfg Config, body func(s *Sim, co *coro.Co) error) error {
	cfg.FullTrace = true
	first, err := Run(cfg, body)
	if err != nil {
		return err
	}
	second, err := Run(cfg, body)
	if err != nil {
		return fmt.Errorf("sim: seed %d passed once and failed when run again, so the run is not deterministic: %w", cfg.Seed, err)
	}
	return diverge(cfg.Seed, first.trace, second.trace)
}

// diverge reports the first difference between two traces of one seed.
func diverge(seed uint64, a, b []event) error {
	for i := range max(len(a), len(b)) {
		if i < len(a) && i < len(b) && a[i] == b[i] {
			continue
		}
		line := func(tr []event) string {
			if i < len(tr) {
				return tr[i].String()
			}
			return "(the trace ends here)"
		}
		var ctx []string
		for j := max(i-5, 0); j < i; j++ {
			ctx = append(ctx, "  "+a[j].String())
		}
		return fmt.Errorf("sim: seed %d is not deterministic: two runs diverge at step %d of the trace:\n%s\n  first run:  %s\n  second run: %s\n"+
			"something outside the simulation decided: a goroutine of its own, the real clock (time.Now, time.Sleep), an unseeded random source (use Sim.Rand), the global executor or the blocking pool",
			seed, i, strings.Join(ctx, "\n"), line(a), line(b))
	}
	return nil
}

// replay is the command that runs one seed of the current test again.
func replay(t *testing.T, seed uint64) string {
	dir, _ := os.Getwd()
	name := t.Name()
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	return fmt.Sprintf("cd %s && go test -run '^%s$' -count=1 . -sim.seed=%d", dir, name, seed)
}
