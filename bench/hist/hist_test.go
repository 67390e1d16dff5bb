package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestQuantileSmallValuesAreExact(t *testing.T) {
	h := New()
	for v := int64(1); v <= 100; v++ {
		h.Record(v)
	}
	tests := []struct {
		q    float64
		want int64
	}{
		{0, 1}, {0.01, 1}, {0.5, 50}, {0.9, 90}, {0.99, 99}, {0.999, 100}, {1, 100},
	}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %d, want %d", tt.q, got, tt.want)
		}
	}
	if h.Count() != 100 || h.Min() != 1 || h.Max() != 100 || h.Mean() != 50.5 {
		t.Errorf("count/min/max/mean = %d/%d/%d/%v", h.Count(), h.Min(), h.Max(), h.Mean())
	}
}

// TestQuantileMatchesSortedSamples checks every quantile the harness reports
// against the nearest-rank value of the sorted samples, on data shaped like
// latencies (log-normal, microseconds to tens of milliseconds in ns).
func TestQuantileMatchesSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	samples := make([]int64, n)
	parts := []*Histogram{New(), New(), New()}
	for i := range samples {
		v := int64(math.Exp(rng.NormFloat64()*1.2 + math.Log(50_000)))
		samples[i] = v
		parts[i%len(parts)].Record(v)
	}
	h := New()
	for _, p := range parts {
		h.Merge(p)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := samples[int(math.Ceil(q*n))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 1.0/128 {
			t.Errorf("Quantile(%v) = %d, sorted samples say %d (relative error %.4f)", q, got, want, rel)
		}
	}
	if h.Count() != n || h.Max() != samples[n-1] || h.Min() != samples[0] {
		t.Errorf("count/min/max = %d/%d/%d", h.Count(), h.Min(), h.Max())
	}
}

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	prevEnd := int64(0)
	for i := 0; i < numBuckets; i++ {
		low, width := bounds(i)
		if low != prevEnd {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, low, prevEnd)
		}
		if index(low) != i || index(low+width-1) != i {
			t.Fatalf("bucket %d [%d,+%d) maps back to %d/%d", i, low, width, index(low), index(low+width-1))
		}
		prevEnd = low + width
	}
	if prevEnd != MaxValue+1 {
		t.Fatalf("buckets end at %d, want %d", prevEnd, int64(MaxValue+1))
	}
}

func TestEmptyAndClamped(t *testing.T) {
	h := New()
	if h.Quantile(0.5) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram is not all zero")
	}
	h.Record(-5)
	h.Record(MaxValue * 4)
	if h.Quantile(0) != 0 || h.Quantile(1) != MaxValue {
		t.Fatalf("clamping: got %d and %d", h.Quantile(0), h.Quantile(1))
	}
}
