package clock_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smolgo/smol/clock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestManualClock(t *testing.T) {
	clk := clock.NewManual(epoch)
	var fired []string
	a := clk.AfterFunc(2*time.Second, func() { fired = append(fired, "a@"+clk.Now().Sub(epoch).String()) })
	clk.AfterFunc(time.Second, func() { fired = append(fired, "b@"+clk.Now().Sub(epoch).String()) })
	clk.AfterFunc(time.Second, func() {
		fired = append(fired, "c@"+clk.Now().Sub(epoch).String())
		// An alarm set by an alarm's function, due within the same
		// Advance, goes off in it.
		clk.AfterFunc(500*time.Millisecond, func() { fired = append(fired, "d@"+clk.Now().Sub(epoch).String()) })
	})
	if next, ok := clk.Next(); !ok || next != epoch.Add(time.Second) {
		t.Fatalf("Next: %v %v", next, ok)
	}
	clk.Advance(1500 * time.Millisecond)
	if got := strings.Join(fired, " "); got != "b@1s c@1s d@1.5s" {
		t.Fatalf("fired %q", got)
	}
	if !a.Reset(time.Second) { // from 1.5s: due at 2.5s
		t.Fatal("Reset of a pending alarm reported false")
	}
	clk.Advance(900 * time.Millisecond)
	if len(fired) != 3 {
		t.Fatal("a reset alarm went off at its old time")
	}
	if !a.Stop() || a.Stop() {
		t.Fatal("Stop reports")
	}
	clk.Advance(time.Hour)
	if len(fired) != 3 {
		t.Fatal("a stopped alarm went off")
	}
	if _, ok := clk.Next(); ok {
		t.Fatal("Next reports an alarm with none pending")
	}
	clk.AdvanceTo(epoch) // backwards: no effect
	if clk.Now() != epoch.Add(1500*time.Millisecond+900*time.Millisecond+time.Hour) {
		t.Fatalf("the clock moved backwards: %v", clk.Now())
	}
}

// TestManualZeroStart: a clock that starts at the zero time reports its
// alarms there too.
func TestManualZeroStart(t *testing.T) {
	clk := clock.NewManual(time.Time{})
	clk.AfterFunc(0, func() {})
	if next, ok := clk.Next(); !ok || !next.IsZero() {
		t.Fatalf("Next: %v %v", next, ok)
	}
	fired := false
	clk.AfterFunc(time.Second, func() { fired = true })
	clk.Advance(time.Second)
	if !fired || clk.Now() != (time.Time{}).Add(time.Second) {
		t.Fatal("alarm at the zero time's second")
	}
}

func TestRealIsTimeTimer(t *testing.T) {
	done := make(chan struct{})
	a := clock.Real.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	if _, ok := a.(*time.Timer); !ok || a.Stop() {
		t.Fatal("Real's alarm is not a spent *time.Timer")
	}
	if d := time.Since(clock.Real.Now()); d < 0 || d > time.Second {
		t.Fatalf("clock.Real.Now is %v off", d)
	}
}
