// Package hist is a small log-linear latency histogram in the spirit of
// HdrHistogram: fixed memory, constant-time recording, and quantiles with a
// bounded relative error.
//
// Layout. Values are non-negative integers (nanoseconds here). Values below
// 2^SubBits get a bucket each. Above that, every power-of-two range
// [2^k, 2^(k+1)) is split into 2^SubBits equal sub-buckets, so a bucket's
// width is at most 1/2^SubBits of its lower bound: with SubBits = 7 a
// reported quantile is within 0.8% of the true sample value. Values at or
// above 2^MaxBits are clamped into the last bucket (2^40 ns is 18 minutes).
package hist

import (
	"math"
	"math/bits"
	"sync/atomic"
)

const (
	// SubBits sets the precision: 2^SubBits sub-buckets per octave.
	SubBits = 7
	// MaxBits bounds the recordable range to [0, 2^MaxBits).
	MaxBits = 40

	subCount = 1 << SubBits
	nBuckets = (MaxBits - SubBits + 1) * subCount
)

// Hist is a latency histogram. The zero value is empty and ready to use.
// Record is for a single goroutine; RecordAtomic may be called from many
// goroutines at once. Readers (Count, Quantile, ...) must not run
// concurrently with writers: the caller orders them, for example with a
// WaitGroup, after the last Record.
type Hist struct {
	counts [nBuckets]uint64
	total  uint64
	sum    uint64
	max    uint64
}

// index maps a value to its bucket.
func index(v uint64) int {
	if v >= 1<<MaxBits {
		v = 1<<MaxBits - 1
	}
	if v < subCount {
		return int(v)
	}
	// v has bit length L > SubBits; keep its top SubBits+1 bits as m in
	// [subCount, 2*subCount) and use the shift as the octave number.
	shift := bits.Len64(v) - SubBits - 1
	m := v >> uint(shift)
	return (shift+1)*subCount + int(m) - subCount
}

// bounds returns the smallest and largest value that map to bucket i.
func bounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	shift := uint(i/subCount - 1)
	m := uint64(i%subCount + subCount)
	return m << shift, (m+1)<<shift - 1
}

// Record adds one value. Not safe for concurrent use.
func (h *Hist) Record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	h.counts[index(u)]++
	h.total++
	h.sum += u
	if u > h.max {
		h.max = u
	}
}

// RecordAtomic adds one value; safe for concurrent use with other
// RecordAtomic calls. Each field is updated with its own atomic operation:
// a reader that waits for all writers to finish (see the type's doc) sees
// every update, and no reader looks in between, so the fields need not
// change together.
func (h *Hist) RecordAtomic(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	atomic.AddUint64(&h.counts[index(u)], 1)
	atomic.AddUint64(&h.total, 1)
	atomic.AddUint64(&h.sum, u)
	for {
		m := atomic.LoadUint64(&h.max)
		if u <= m || atomic.CompareAndSwapUint64(&h.max, m, u) {
			break
		}
	}
}

// Count returns the number of recorded values.
func (h *Hist) Count() uint64 { return h.total }

// Mean returns the exact mean of the recorded values, or 0 if none.
func (h *Hist) Mean() float64 {
	if h.total == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.total)
}

// Max returns the exact largest recorded value.
func (h *Hist) Max() uint64 { return h.max }

// Quantile returns the value at quantile q in [0, 1]: the middle of the
// bucket that holds the ceil(q*n)-th smallest sample (never more than the
// exact maximum). It returns 0 for an empty histogram.
func (h *Hist) Quantile(q float64) float64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i]
		if seen >= rank {
			lo, hi := bounds(i)
			mid := (float64(lo) + float64(hi)) / 2
			return math.Min(mid, float64(h.max))
		}
	}
	return float64(h.max)
}
