package blocking_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
)

// noop is a context for polling a future by hand.
var noop = smol.NewContext(smol.NoopWaker)

// checkLeaks makes the test fail if goroutines started during it are still
// running when it ends (goleak retries for a while, which covers a pool's
// goroutines that exit on their idle timeout).
func checkLeaks(t *testing.T, extra ...goleak.Option) {
	t.Helper()
	opts := append([]goleak.Option{goleak.IgnoreCurrent()}, extra...)
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline; the deadline turns a hang into a failure, it is no timing
// assertion.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// mustPanic calls fn and returns the value it panicked with, failing the
// test if it did not panic.
func mustPanic(t testing.TB, fn func()) (v any) {
	t.Helper()
	defer func() { v = recover() }()
	fn()
	t.Fatalf("did not panic")
	return nil
}

// must returns v, panicking if err is not nil.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
