// Package stats has the two summary functions the harness needs: Jain's
// fairness index and the median.
package stats

import "sort"

// Jain returns Jain's fairness index of xs: (Σx)² / (n·Σx²). It is 1 when
// every element is equal and 1/n when one element has everything. An empty
// or all-zero input returns 0.
func Jain(xs []int64) float64 {
	var sum, sq float64
	for _, x := range xs {
		f := float64(x)
		sum += f
		sq += f * f
	}
	if sq == 0 {
		return 0
	}
	return sum * sum / (float64(len(xs)) * sq)
}

// Median returns the median of xs (the mean of the two middle elements for
// an even count), or 0 for an empty slice. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
