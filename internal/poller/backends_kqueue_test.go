//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package poller

import "testing"

// runBackends runs the tests once: kqueue is the only backend here.
func runBackends(m *testing.M) int { return m.Run() }
