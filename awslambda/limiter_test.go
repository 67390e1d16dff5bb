package awslambda

import (
	"context"
	"testing"
	"time"
)

func TestLimiterPacesAndFollowsAIMD(t *testing.T) {
	l := NewLimiter(200)
	start := time.Now()
	for range 41 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 190*time.Millisecond || took > 600*time.Millisecond {
		t.Fatalf("41 requests at 200/s took %v, want about 200 ms", took)
	}
	clock := time.Now()
	l.now = func() time.Time { return clock }
	tick := func() { clock = clock.Add(decreaseEvery) }
	l.Throttled()
	l.Throttled() // the same window: no second halving
	if r := l.Rate(); r != 100 {
		t.Fatalf("rate after two 429s at once = %v, want 100", r)
	}
	tick()
	l.Throttled()
	if r := l.Rate(); r != 50 {
		t.Fatalf("rate after 429s in two windows = %v, want 50", r)
	}
	for range 10 {
		l.Succeeded()
	}
	if r := l.Rate(); r != 70 {
		t.Fatalf("rate after 10 successes = %v, want 70", r)
	}
	for range 20 {
		tick()
		l.Throttled()
	}
	if r := l.Rate(); r != 2 {
		t.Fatalf("rate floor = %v, want 2 (a hundredth)", r)
	}
	for range 1000 {
		l.Succeeded()
	}
	if r := l.Rate(); r != 200 {
		t.Fatalf("rate ceiling = %v, want 200", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx); err == nil {
		t.Fatal("Wait on an ended context returned nil")
	}
}
