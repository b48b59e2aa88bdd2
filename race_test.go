//go:build race

package smol_test

// raceEnabled reports whether the tests run under the race detector, which
// makes atomics about ten times slower; the largest tests scale down.
const raceEnabled = true
