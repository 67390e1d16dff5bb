package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Cluster is implemented by a Remote that can put a question to every
// other live node of a cluster (cluster.Node does). The introspection API
// gathers its lists from every node with it, each node answering with its
// gateway's [Gateway.Introspect].
type Cluster interface {
	// NodeName returns this node's name in the cluster.
	NodeName() string
	// Gather sends query to every other live node and returns their
	// answers, one per node, within a bounded time; an answer whose Err is
	// set says which node did not answer, and why.
	Gather(ctx context.Context, query []byte) []NodeAnswer
}

// NodeAnswer is one node's answer to a [Cluster.Gather].
type NodeAnswer struct {
	Node   string // the node's name
	Answer []byte // its answer, when Err is nil
	Err    error  // why there is no answer
}

// insight is the introspection API's state: when the gateway started, its
// rate meter and the live updates' hub.
type insight struct {
	started time.Time
	meter   rateMeter
	live    *liveHub
}

func newInsight(g *Gateway) *insight {
	in := &insight{started: time.Now()}
	in.live = newLiveHub(g)
	return in
}

// nodeEntry describes a node: where it is, since when, how many
// connections it holds, its counters and their rates.
type nodeEntry struct {
	Node          string    `json:"node"`
	Self          bool      `json:"self,omitempty"`
	Address       string    `json:"address,omitempty"`
	StartedAt     time.Time `json:"startedAt"`
	UptimeSeconds float64   `json:"uptimeSeconds"`
	Connections   int       `json:"connections"`
	Totals        counts    `json:"totals"`
	Rates         rates     `json:"rates"`
}

// counts are a node's counters since it started.
type counts struct {
	Opened      uint64            `json:"opened"`
	MessagesOut uint64            `json:"messagesOut"`
	MessagesIn  map[string]uint64 `json:"messagesIn"` // by route
	Errors      map[string]uint64 `json:"errors"`     // by code
	Drops       map[string]uint64 `json:"drops"`      // by reason
}

// rates are counters per second over the last window (at least a second,
// or since the node started).
type rates struct {
	WindowSeconds float64            `json:"windowSeconds"`
	Opened        float64            `json:"opened"`
	MessagesIn    float64            `json:"messagesIn"`
	MessagesOut   float64            `json:"messagesOut"`
	Errors        float64            `json:"errors"`
	Routes        map[string]float64 `json:"routes"` // messages in by route
	Codes         map[string]float64 `json:"codes"`  // errors by code
}

// localNode describes this node.
func (g *Gateway) localNode() nodeEntry {
	now := time.Now()
	c := g.metrics.counts()
	return nodeEntry{
		Node:          g.nodeName(),
		Address:       g.opts.Address,
		StartedAt:     g.insight.started.UTC(),
		UptimeSeconds: now.Sub(g.insight.started).Seconds(),
		Connections:   g.conns.len(),
		Totals:        c,
		Rates:         g.insight.meter.observe(now, g.insight.started, c),
	}
}

// rateMeter turns counters into rates: each observation at least a second
// after the previous one measures the rates since then; one sooner gets
// the last rates again, so that several viewers do not shorten the window.
type rateMeter struct {
	mu    sync.Mutex
	at    time.Time // of the previous sample; zero before the first
	prev  counts
	rates rates
}

// minRateWindow is the shortest window rates are measured over.
const minRateWindow = time.Second

func (m *rateMeter) observe(now, started time.Time, c counts) rates {
	m.mu.Lock()
	defer m.mu.Unlock()
	from, prev := m.at, m.prev
	if from.IsZero() {
		from, prev = started, counts{}
	}
	window := now.Sub(from)
	if !m.at.IsZero() && window < minRateWindow {
		return m.rates
	}
	seconds := max(window.Seconds(), 1e-3)
	per := func(now, before uint64) float64 {
		if now < before {
			return 0
		}
		return float64(now-before) / seconds
	}
	r := rates{
		WindowSeconds: window.Seconds(),
		Opened:        per(c.Opened, prev.Opened),
		MessagesOut:   per(c.MessagesOut, prev.MessagesOut),
		Routes:        make(map[string]float64, len(c.MessagesIn)),
		Codes:         make(map[string]float64, len(c.Errors)),
	}
	for route, n := range c.MessagesIn {
		r.Routes[route] = per(n, prev.MessagesIn[route])
		r.MessagesIn += r.Routes[route]
	}
	for code, n := range c.Errors {
		r.Codes[code] = per(n, prev.Errors[code])
		r.Errors += r.Codes[code]
	}
	m.at, m.prev, m.rates = now, c, r
	return r
}

// counts reads the counters.
func (m *metrics) counts() counts {
	return counts{
		Opened:      uint64(counterValue(m.opened)),
		MessagesOut: uint64(counterValue(m.messagesOut)),
		MessagesIn:  byLabel(m.messagesIn),
		Errors:      byLabel(m.errors),
		Drops:       byLabel(m.drops),
	}
}

func counterValue(c prometheus.Counter) float64 {
	var d dto.Metric
	if c.Write(&d) != nil || d.Counter == nil {
		return 0
	}
	return d.Counter.GetValue()
}

// byLabel reads a counter vector of one label.
func byLabel(vec *prometheus.CounterVec) map[string]uint64 {
	ch := make(chan prometheus.Metric)
	go func() {
		vec.Collect(ch)
		close(ch)
	}()
	out := make(map[string]uint64)
	for metric := range ch {
		var d dto.Metric
		if metric.Write(&d) != nil || d.Counter == nil || len(d.Label) != 1 {
			continue
		}
		out[d.Label[0].GetValue()] = uint64(d.Counter.GetValue())
	}
	return out
}
