package smol

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Goroutines that outlive a test by design, for goleak to ignore: the
// global executor's workers and the reactor's fallback goroutine live as
// long as the process.
var (
	IgnoreGlobal  = goleak.IgnoreAnyFunction("github.com/smolgo/smol.globalWorker")
	IgnoreReactor = goleak.IgnoreAnyFunction("github.com/smolgo/smol.(*reactor).fallback")
)

// TestMain checks that the package's tests, taken together, leak no
// goroutine. The global executor's workers and the reactor's fallback
// goroutine are ignored (see IgnoreGlobal); the default blocking pool's
// workers exit after their idle timeout, so the check waits for them.
func TestMain(m *testing.M) {
	// SetGlobalWorkers works only before the global executor starts;
	// TestSetGlobalWorkers checks that it fails afterwards.
	if err := SetGlobalWorkers(2); err != nil {
		fmt.Fprintf(os.Stderr, "SetGlobalWorkers(2) before start: %v\n", err)
		os.Exit(1)
	}

	code := m.Run()

	if code == 0 {
		// The blocking pool's idle workers (smolnet's DNS lookups use it
		// in some tests) exit 500ms after their last job; goleak ignores
		// them.
		if err := goleak.Find(IgnoreGlobal, IgnoreReactor, goleak.IgnoreAnyFunction("github.com/smolgo/smol/blocking.(*Pool).work")); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// must returns v, panicking if err is not nil: for results that a test
// knows cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
