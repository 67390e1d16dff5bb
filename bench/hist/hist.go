// Package hist is a fixed-size, mergeable latency histogram with log-linear
// buckets in the style of HdrHistogram: 128 linear sub-buckets per power of
// two, so every recorded value is kept to within 1/128 (< 0.8 %) of itself,
// in 35 KiB whatever the number of samples.
//
// Record values in nanoseconds from one goroutine per Histogram, then Merge
// the per-goroutine histograms and read Quantile.
package hist

import (
	"math"
	"math/bits"
)

// subBits is log2 of the number of sub-buckets per power of two.
const subBits = 7

// MaxValue is the largest value kept exactly to bucket precision (about
// 18 minutes in nanoseconds); larger values are recorded as MaxValue.
const MaxValue = 1<<40 - 1

// numBuckets covers every value up to MaxValue.
var numBuckets = index(MaxValue) + 1

// Histogram counts values (nanoseconds, or any non-negative integer) in
// log-linear buckets. The zero value is not usable; call New. A Histogram is
// not safe for concurrent use.
type Histogram struct {
	counts []uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

// New returns an empty histogram.
func New() *Histogram {
	return &Histogram{counts: make([]uint64, numBuckets), min: math.MaxInt64}
}

// index returns the bucket of v (0 ≤ v ≤ MaxValue).
func index(v int64) int {
	shift := bits.Len64(uint64(v)) - subBits - 1
	if shift < 0 {
		shift = 0
	}
	return shift<<subBits + int(v>>shift)
}

// bounds returns the smallest value of bucket i and the bucket's width.
func bounds(i int) (low, width int64) {
	shift := i>>subBits - 1
	if shift < 0 {
		shift = 0
	}
	return int64(i-shift<<subBits) << shift, 1 << shift
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if v > MaxValue {
		v = MaxValue
	}
	h.counts[index(v)]++
	h.n++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Min returns the smallest recorded value, or 0 when empty.
func (h *Histogram) Min() int64 {
	if h.n == 0 {
		return 0
	}
	return h.min
}

// Max returns the largest recorded value, or 0 when empty.
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the mean of the recorded values, or 0 when empty.
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the value below or at which a fraction q (0 ≤ q ≤ 1) of
// the recorded values lie: the value of rank ⌈q·n⌉ (nearest-rank method),
// given as the middle of its bucket and clamped to [Min, Max] (the first and
// last ranks are Min and Max exactly). It returns 0
// when the histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	rank = min(rank, h.n)
	switch rank {
	case 1:
		return h.min
	case h.n:
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen < rank {
			continue
		}
		low, width := bounds(i)
		v := low + (width-1)/2
		return min(max(v, h.min), h.max)
	}
	return h.max
}
