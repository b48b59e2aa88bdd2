// Package trend decides whether a resource sampled at intervals over a
// long run grows: the rule the soak test (bench/soak.sh) applies to an echo
// server's resident memory, open descriptors and goroutines.
//
// The rule, for samples (t_i, y_i), i = 0..n-1, taken over a run of length
// T = t_{n-1} - t_0:
//
//  1. Warm-up: the first WarmupFrac of the samples (rounded up) are
//     ignored; a server's heap and buffers grow to their working size at
//     the start. The rest are the judged samples.
//  2. Slope: a least-squares line through the judged samples. Its
//     projected growth over the run is slope × T.
//  3. Medians: the judged samples are split by index into thirds, early,
//     middle and late; the median of the late third is compared with the
//     median of the early third. The difference, scaled from the distance
//     between the two thirds' middle times to T, is a second, outlier-proof
//     estimate of the growth over the run. For a straight line both
//     estimates are exactly its growth over the run.
//  4. The series trends upward when BOTH estimates exceed the limit,
//     max(Abs, Rel × the early third's median). Requiring both makes the
//     rule robust on a noisy machine: one spike, a transient bump or a
//     burst of noise near the end moves the slope but not the medians, and
//     a few scattered outliers move neither median; a leak, or a step up
//     after the warm-up that lasts, moves both.
//  5. Optionally, the series is also over its ceiling when the late
//     third's median exceeds Ceiling (for descriptors: the connections plus
//     a small constant), whatever its trend.
//
// Why the early third of the judged samples and not the second third of
// the run: a lasting step up between a third and half of the run raises
// both the second and the last third's medians, and their comparison
// misses it (the unit tests have that case).
//
// What it cannot see: growth that starts in the last sixth or so of the run
// moves the late third's median too little, and a step soon after the
// warm-up looks like a longer warm-up. A longer run moves these blind spots
// but never removes them. With few samples (a 1-minute run at 10-second
// intervals judges 5) both estimates are noisy and the verdict is weak.
package trend

import (
	"errors"
	"fmt"
	"math"

	"github.com/smolgo/smol/bench/internal/stats"
)

// MinSamples is the fewest samples Check judges: after the longest
// warm-up, four, so that the early and late thirds are distinct.
const MinSamples = 6

// Rule says how much a series may grow. The zero Rule allows no growth at
// all (limit 0) and has no warm-up.
type Rule struct {
	// WarmupFrac is the leading fraction of the samples that the slope
	// ignores, in [0, 1/3]: the second third must lie after it.
	WarmupFrac float64
	// The limit on growth over the run is max(Abs, Rel × level), where
	// level is the median of the early third of the judged samples.
	Abs, Rel float64
	// Ceiling, when > 0, is the highest value allowed for the median of
	// the last third.
	Ceiling float64
	// Format prints a value of the series in Verdict.Reason; nil prints
	// it with %.0f.
	Format func(float64) string
}

// Verdict is what Check found.
type Verdict struct {
	Samples int     `json:"samples"` // all samples
	Judged  int     `json:"judged"`  // samples after the warm-up, used by the fit
	Span    float64 `json:"span"`    // T: time from the first to the last sample

	// The least-squares line through the judged samples, y = Intercept +
	// Slope × t, and its growth over the run, Slope × Span.
	Slope       float64 `json:"slope"`
	Intercept   float64 `json:"intercept"`
	SlopeGrowth float64 `json:"slope_growth"`

	// The medians of the early and late thirds of the judged samples, and
	// the growth over the run that their difference implies.
	Early        float64 `json:"early_median"`
	Late         float64 `json:"late_median"`
	MedianGrowth float64 `json:"median_growth"`

	Limit   float64 `json:"limit"`   // max(Abs, Rel × Early)
	Ceiling float64 `json:"ceiling"` // the rule's Ceiling (0: none)
	Up      bool    `json:"up"`      // both growth estimates exceed Limit
	Over    bool    `json:"over"`    // Ceiling > 0 and Late > Ceiling
	Fail    bool    `json:"fail"`    // Up || Over
	Reason  string  `json:"reason"`  // one line saying why it passed or failed
}

// Check applies the rule r to the samples y taken at times t (increasing,
// in any unit; Span and Slope are in the same unit). It fails only on bad
// input: lengths that differ, fewer than MinSamples samples, times that do
// not increase, a WarmupFrac outside [0, 1/3].
func Check(t, y []float64, r Rule) (Verdict, error) {
	n := len(t)
	switch {
	case len(y) != n:
		return Verdict{}, fmt.Errorf("trend: %d times but %d values", n, len(y))
	case n < MinSamples:
		return Verdict{}, fmt.Errorf("trend: %d samples, need at least %d (a run of at least %d sampling intervals)",
			n, MinSamples, MinSamples-1)
	case r.WarmupFrac < 0 || r.WarmupFrac > 1.0/3:
		return Verdict{}, fmt.Errorf("trend: warm-up fraction %g is outside [0, 1/3]", r.WarmupFrac)
	}
	for i := 1; i < n; i++ {
		if !(t[i] > t[i-1]) {
			return Verdict{}, errors.New("trend: sample times do not increase")
		}
	}
	format := r.Format
	if format == nil {
		format = func(v float64) string { return fmt.Sprintf("%.0f", v) }
	}

	v := Verdict{Samples: n, Span: t[n-1] - t[0], Ceiling: r.Ceiling}

	// Step 2: the fit, after the warm-up. WarmupFrac ≤ 1/3 leaves at least
	// four samples.
	w := int(math.Ceil(r.WarmupFrac*float64(n) - 1e-9))
	v.Judged = n - w
	v.Slope, v.Intercept = Fit(t[w:], y[w:])
	v.SlopeGrowth = v.Slope * v.Span

	// Step 3: the medians of the early and late thirds of the judged
	// samples, and the time between their middles. Four judged samples or
	// more make both thirds non-empty and disjoint.
	jt, jy := t[w:], y[w:]
	i1, i2 := v.Judged/3, v.Judged-v.Judged/3
	v.Early, v.Late = stats.Median(jy[:i1]), stats.Median(jy[i2:])
	dt := stats.Median(jt[i2:]) - stats.Median(jt[:i1])
	v.MedianGrowth = (v.Late - v.Early) * v.Span / dt

	// Steps 4 and 5.
	v.Limit = math.Max(r.Abs, r.Rel*v.Early)
	v.Up = v.SlopeGrowth > v.Limit && v.MedianGrowth > v.Limit
	v.Over = r.Ceiling > 0 && v.Late > r.Ceiling
	v.Fail = v.Up || v.Over

	est := fmt.Sprintf("growth over the run %s by slope, %s by medians (%s -> %s); limit %s",
		format(v.SlopeGrowth), format(v.MedianGrowth), format(v.Early), format(v.Late), format(v.Limit))
	switch {
	case v.Up && v.Over:
		v.Reason = "grows and is over its ceiling " + format(r.Ceiling) + ": " + est
	case v.Up:
		v.Reason = "grows: " + est
	case v.Over:
		v.Reason = fmt.Sprintf("over its ceiling: late median %s > %s; %s",
			format(v.Late), format(r.Ceiling), est)
	default:
		v.Reason = "flat: " + est
	}
	return v, nil
}

// Fit returns the least-squares line y = a + b×x through the points, as
// (b, a). With fewer than two distinct x it returns slope 0 and the mean.
func Fit(x, y []float64) (slope, intercept float64) {
	n := float64(len(x))
	if n == 0 {
		return 0, 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range x {
		dx := x[i] - mx
		sxy += dx * (y[i] - my)
		sxx += dx * dx
	}
	if sxx == 0 {
		return 0, my
	}
	slope = sxy / sxx
	return slope, my - slope*mx
}

// The soak test's rules. A 10-minute soak at 10-second intervals takes 61
// samples; the fit uses the last 48.
const (
	// SoakWarmupFrac: the first 20% of the samples are warm-up.
	SoakWarmupFrac = 0.2
	// Resident memory may grow by 10% of its level or 4 MiB, whichever is
	// more: the Go heap's goal moves with the live heap, and a few MiB
	// come and go with it.
	SoakRSSRel = 0.10
	SoakRSSAbs = 4 << 20
	// Descriptors are flat once every connection is open: growth of more
	// than 4 over the run is a leak, and more than the connections plus
	// 32 (listeners, epoll and wake-up descriptors, the control
	// connection, stdio) is too many whatever the trend.
	SoakFDAbs   = 4
	SoakFDSlack = 32
	// Goroutines may grow by 10 over the run (runtime and pool goroutines
	// that come and go), not more.
	SoakGoroutineAbs = 10
)

// SoakRSS is the rule for resident memory in bytes.
func SoakRSS() Rule {
	return Rule{WarmupFrac: SoakWarmupFrac, Abs: SoakRSSAbs, Rel: SoakRSSRel,
		Format: func(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }}
}

// SoakFDs is the rule for the open descriptors of a server holding conns
// connections.
func SoakFDs(conns int) Rule {
	return Rule{WarmupFrac: SoakWarmupFrac, Abs: SoakFDAbs, Ceiling: float64(conns + SoakFDSlack)}
}

// SoakGoroutines is the rule for the goroutine count.
func SoakGoroutines() Rule {
	return Rule{WarmupFrac: SoakWarmupFrac, Abs: SoakGoroutineAbs}
}
