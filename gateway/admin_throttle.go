package gateway

import (
	"net/http"
	"sync"
	"time"

	"github.com/monologue-go/monologue/wire"
)

// callbackThrottle is the management listener's account throttle: a token
// bucket of rate requests per second holding at most a tenth of a second's
// worth, as API Gateway throttles @connections calls per account and
// Region. A request past it is answered 429 LimitExceededException.
type callbackThrottle struct {
	mu     sync.Mutex
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newCallbackThrottle(rate float64) *callbackThrottle {
	burst := max(1, rate/10)
	return &callbackThrottle{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// allow takes a token if there is one.
func (c *callbackThrottle) allow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.tokens = min(c.burst, c.tokens+now.Sub(c.last).Seconds()*c.rate)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// SetCallbackRateLimit changes Options.CallbackRateLimit: how many
// @connections requests per second the management listener accepts before
// answering 429 (zero or less: no limit). Safe to call while serving.
func (g *Gateway) SetCallbackRateLimit(rate float64) {
	if rate <= 0 {
		g.callbacks.Store(nil)
		return
	}
	g.callbacks.Store(newCallbackThrottle(rate))
}

// throttled wraps an @connections handler with the throttle.
func (g *Gateway) throttled(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c := g.callbacks.Load(); c != nil && !c.allow() {
			g.writeWireError(w, r, wire.NewError(wire.CodeRateLimited, "Rate exceeded"))
			return
		}
		h(w, r)
	}
}
