package gateway

import (
	"runtime"
	"sync/atomic"
)

// loops are the gateway's event loops (see loop), started with the first
// connection that one serves.
type loops struct {
	n    int // how many to start; 0: none
	all  []*loop
	next atomic.Uint32
}

// loopCount is how many event loops opts asks for with integration.
func loopCount(opts *Options, integration Integration) int {
	if !loopsSupported || opts.EventLoops < 0 {
		return 0
	}
	if opts.EventLoops > 0 {
		return opts.EventLoops
	}
	switch integration.(type) {
	case memoryIntegration, LoopIntegration:
		return runtime.GOMAXPROCS(0)
	}
	return 0
}

// prepareLoop gives c to an event loop when the gateway runs them and c's
// socket is plain TCP (see loop.adopt); false when c keeps a reader
// goroutine.
func (g *Gateway) prepareLoop(c *conn) bool {
	if g.loops.n == 0 || c.raw == nil {
		return false
	}
	g.startLoops()
	if len(g.loops.all) == 0 {
		return false
	}
	l := g.loops.all[int(g.loops.next.Add(1))%len(g.loops.all)]
	return l.adopt(c)
}

// startLoops starts the event loops, once.
func (g *Gateway) startLoops() {
	g.loopsOnce.Do(func() {
		for range g.loops.n {
			l, err := newLoop(g)
			if err != nil {
				g.log.Error("event loops unavailable: connections get reader goroutines", "err", err)
				break
			}
			g.loops.all = append(g.loops.all, l)
		}
	})
}

// stopLoops ends the event loops once no connection uses them. A
// handshake that ends after it cannot register (the gateway is closing),
// so it never gives its connection to a stopped loop.
func (g *Gateway) stopLoops() {
	g.loopsOnce.Do(func() {}) // none start after this
	g.stopOnce.Do(func() {
		for _, l := range g.loops.all {
			l.stop()
		}
	})
}
