package hist

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func TestIndexBoundsRoundTrip(t *testing.T) {
	// Every bucket's bounds map back to it, and buckets tile the range.
	var prevHi uint64
	for i := 0; i < nBuckets; i++ {
		lo, hi := bounds(i)
		if index(lo) != i || index(hi) != i {
			t.Fatalf("bucket %d: bounds [%d,%d] map to %d,%d", i, lo, hi, index(lo), index(hi))
		}
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		prevHi = hi
	}
	if prevHi != 1<<MaxBits-1 {
		t.Fatalf("last bucket ends at %d", prevHi)
	}
}

func TestQuantileRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Hist
	xs := make([]int64, 100000)
	for i := range xs {
		// Log-uniform over 100 ns .. 100 ms.
		xs[i] = int64(math.Exp(math.Log(100) + r.Float64()*math.Log(1e6)))
		h.Record(xs[i])
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := float64(xs[int(math.Ceil(q*float64(len(xs))))-1])
		got := h.Quantile(q)
		if rel := math.Abs(got-want) / want; rel > 1.0/subCount {
			t.Errorf("q=%v: got %v want %v (rel err %.4f)", q, got, want, rel)
		}
	}
	if h.Count() != uint64(len(xs)) {
		t.Fatalf("count %d", h.Count())
	}
}

func TestRecordAtomicConcurrent(t *testing.T) {
	var h Hist
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(1); i <= 1000; i++ {
				h.RecordAtomic(i)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 8000 || h.Max() != 1000 || h.Mean() != 500.5 {
		t.Fatalf("count %d max %d mean %v", h.Count(), h.Max(), h.Mean())
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Hist
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-5)
	if h.Quantile(1) != 0 {
		t.Fatal("negative value not clamped to 0")
	}
}
