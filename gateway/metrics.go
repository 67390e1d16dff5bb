package gateway

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/monologue-go/monologue/wire"
)

// metrics are the gateway's Prometheus metrics. Counters of the known label
// values are looked up once, so counting costs no label hashing.
type metrics struct {
	registerer prometheus.Registerer
	gatherer   prometheus.Gatherer

	connections prometheus.Gauge
	opened      prometheus.Counter
	messagesIn  *prometheus.CounterVec
	messagesOut prometheus.Counter
	errors      *prometheus.CounterVec
	drops       *prometheus.CounterVec
	queuedBytes prometheus.GaugeFunc
	rejections  *prometheus.CounterVec

	// queued is the bytes in all send queues, which Options.MaxQueuedBytes
	// bounds (see conn.reserveQueued); queuedBytes reports it.
	queued atomic.Int64

	inByRoute    map[string]prometheus.Counter
	errorsByCode map[wire.Code]prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "monologue_connections",
			Help: "Open WebSocket connections.",
		}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "monologue_connections_opened_total",
			Help: "WebSocket connections accepted.",
		}),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monologue_messages_in_total",
			Help: "Client messages received, by route key.",
		}, []string{"route"}),
		messagesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "monologue_messages_out_total",
			Help: "Text frames written to clients.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monologue_errors_total",
			Help: "Error frames sent to clients, by error code.",
		}, []string{"code"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monologue_queue_drops_total",
			Help: "Frames not delivered, by reason: queue_full (send refused with rate_limited), max_queued_bytes (the same, for the limit on all queues together), write_failed, closed, ping_rate_limited (a ping over the message rate, not answered).",
		}, []string{"reason"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "monologue_handshake_rejections_total",
			Help: "WebSocket handshakes refused, by reason.",
		}, []string{"reason"}),
		inByRoute:    make(map[string]prometheus.Counter),
		errorsByCode: make(map[wire.Code]prometheus.Counter),
	}
	m.queuedBytes = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "monologue_queued_bytes",
		Help: "Bytes waiting in the send queues of all connections together (bounded by --max-queued-bytes).",
	}, func() float64 { return float64(m.queued.Load()) })
	for _, route := range append([]string{wire.RouteDefault}, wire.Actions...) {
		m.inByRoute[route] = m.messagesIn.WithLabelValues(route)
	}
	for _, code := range wire.Codes() {
		m.errorsByCode[code] = m.errors.WithLabelValues(string(code))
	}
	for _, reason := range []string{"queue_full", "max_queued_bytes", "write_failed", "closed", "ping_rate_limited"} {
		m.drops.WithLabelValues(reason)
	}
	for _, reason := range []string{"forbidden", "bad_request", "connect_error", "upgrade_failed", "shutting_down"} {
		m.rejections.WithLabelValues(reason)
	}

	all := []prometheus.Collector{m.connections, m.opened, m.messagesIn, m.messagesOut, m.errors, m.drops, m.queuedBytes, m.rejections}
	if reg == nil {
		registry := prometheus.NewRegistry()
		all = append(all, goCollector(), processCollector())
		reg = registry
	}
	for _, c := range all {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.registerer = reg
	if g, ok := reg.(prometheus.Gatherer); ok {
		m.gatherer = g
	} else {
		m.gatherer = prometheus.DefaultGatherer
	}
	return m, nil
}

func goCollector() prometheus.Collector { return collectors.NewGoCollector() }

func processCollector() prometheus.Collector {
	return collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
}

func (m *metrics) messageIn(route string) {
	if c, ok := m.inByRoute[route]; ok {
		c.Inc()
		return
	}
	m.messagesIn.WithLabelValues(route).Inc()
}

func (m *metrics) countError(code wire.Code) {
	if c, ok := m.errorsByCode[code]; ok {
		c.Inc()
		return
	}
	m.errors.WithLabelValues(string(code)).Inc()
}

func (m *metrics) dropped(reason string, n int) {
	if n > 0 {
		m.drops.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *metrics) rejected(reason string) { m.rejections.WithLabelValues(reason).Inc() }
