package gateway_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// closingIntegration is the default relay plus a Close that records how
// many $disconnect events came before it.
type closingIntegration struct {
	*relay.Relay
	mu                 sync.Mutex
	disconnects        int
	disconnectsAtClose int
	closed             int
}

func (c *closingIntegration) Handle(ctx context.Context, ev relay.Event) error {
	if ev.Route == wire.RouteDisconnect {
		c.mu.Lock()
		c.disconnects++
		c.mu.Unlock()
	}
	return c.Relay.Handle(ctx, ev)
}

func (c *closingIntegration) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed++
	c.disconnectsAtClose = c.disconnects
	return nil
}

// TestShutdownClosesIntegration: an integration that holds resources (an
// io.Closer) is closed by Shutdown, once, after every connection's
// $disconnect, so whoever runs a gateway needs no closure of their own.
func TestShutdownClosesIntegration(t *testing.T) {
	integ := &closingIntegration{}
	s := start(t, gateway.Options{NewIntegration: func(gw *gateway.Gateway) (gateway.Integration, error) {
		opts := gw.RelayOptions()
		opts.Channels = memoryChannels()
		integ.Relay = relay.New(opts)
		return integ, nil
	}})
	for range 3 {
		s.dial(t).whoami()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	integ.mu.Lock()
	defer integ.mu.Unlock()
	if integ.closed != 1 || integ.disconnectsAtClose != 3 {
		t.Fatalf("closed %d times, after %d of 3 disconnects; want once, after all", integ.closed, integ.disconnectsAtClose)
	}
}
