package stats

import (
	"math"
	"testing"
)

func TestJain(t *testing.T) {
	cases := []struct {
		xs   []int64
		want float64
	}{
		{[]int64{5, 5, 5, 5}, 1},
		{[]int64{1, 0, 0, 0}, 0.25},
		{[]int64{1, 3}, 16.0 / 20},
		{nil, 0},
		{[]int64{0, 0}, 0},
	}
	for _, c := range cases {
		if got := Jain(c.xs); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Jain(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	in := []float64{3, 1, 2}
	if got := Median(in); got != 2 {
		t.Errorf("odd median %v", got)
	}
	if in[0] != 3 {
		t.Error("input modified")
	}
	if got := Median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("even median %v", got)
	}
	if Median(nil) != 0 {
		t.Error("empty median")
	}
}
