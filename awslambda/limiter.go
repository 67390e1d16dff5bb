package awslambda

import (
	"context"
	"sync"
	"time"
)

// Limiter paces one worker's PostToConnection calls: a token bucket without
// burst whose rate follows AIMD. It starts at its ceiling; a 429 halves it
// (down to a floor of a hundredth of the ceiling), at most once per
// decreaseEvery, since the calls in flight when the gateway began to refuse
// answer 429 together; every success adds a hundredth of the ceiling back.
// It is safe for concurrent use.
type Limiter struct {
	mu      sync.Mutex
	ceiling float64   // requests/s
	rate    float64   // requests/s, in [ceiling/100, ceiling]
	next    time.Time // when the next request may go
	cut     time.Time // last decrease
	now     func() time.Time
}

// decreaseEvery is the least time between two halvings of the rate.
const decreaseEvery = 100 * time.Millisecond

// NewLimiter returns a Limiter of at most ceiling requests per second.
func NewLimiter(ceiling float64) *Limiter {
	ceiling = max(ceiling, 0.01)
	return &Limiter{ceiling: ceiling, rate: ceiling, now: time.Now}
}

// Wait blocks until the next request may go, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(time.Duration(float64(time.Second) / l.rate))
	l.mu.Unlock()
	delay := at.Sub(now)
	if delay <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// Throttled halves the rate, unless it did less than decreaseEvery ago:
// the gateway answered 429.
func (l *Limiter) Throttled() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Sub(l.cut) < decreaseEvery {
		return
	}
	l.cut = now
	l.rate = max(l.rate/2, l.ceiling/100)
}

// Succeeded raises the rate by a hundredth of the ceiling.
func (l *Limiter) Succeeded() {
	l.mu.Lock()
	l.rate = min(l.rate+l.ceiling/100, l.ceiling)
	l.mu.Unlock()
}

// Rate is the current rate in requests per second.
func (l *Limiter) Rate() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}
