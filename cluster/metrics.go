package cluster

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics tells Prometheus, at each scrape, what a node sees of its
// cluster: the live nodes, its NATS connection, and its deliveries to other
// nodes not yet reported on. It reads them when asked, so nothing is
// counted on the path of a message.
type metrics struct {
	n *Node

	nodes, connected, inFlight, messages, bytes, reconnects *prometheus.Desc
}

var _ prometheus.Collector = (*metrics)(nil)

func newMetrics(n *Node) *metrics {
	return &metrics{
		n: n,
		nodes: prometheus.NewDesc("monologue_cluster_nodes",
			"Live nodes of the cluster as this node sees them, itself included.", nil, nil),
		connected: prometheus.NewDesc("monologue_cluster_backbone_connected",
			"1 while this node's connection to NATS is up, 0 while it is down.", nil, nil),
		inFlight: prometheus.NewDesc("monologue_cluster_deliveries_in_flight",
			"Messages handed to other nodes and not yet reported on by them.", nil, nil),
		messages: prometheus.NewDesc("monologue_cluster_backbone_messages_total",
			"NATS messages this node received (in) and sent (out).", []string{"direction"}, nil),
		bytes: prometheus.NewDesc("monologue_cluster_backbone_bytes_total",
			"Payload bytes of the NATS messages this node received (in) and sent (out).", []string{"direction"}, nil),
		reconnects: prometheus.NewDesc("monologue_cluster_backbone_reconnects_total",
			"Times this node's connection to NATS came back after it was lost.", nil, nil),
	}
}

// Describe sends the descriptions of every metric Collect sends.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.nodes, m.connected, m.inFlight, m.messages, m.bytes, m.reconnects} {
		ch <- d
	}
}

// Collect reads the node's figures now.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	connected := 0.0
	if m.n.connected() {
		connected = 1
	}
	st := m.n.nc.Stats()
	ch <- prometheus.MustNewConstMetric(m.nodes, prometheus.GaugeValue, float64(len(m.n.Nodes())))
	ch <- prometheus.MustNewConstMetric(m.connected, prometheus.GaugeValue, connected)
	ch <- prometheus.MustNewConstMetric(m.inFlight, prometheus.GaugeValue, float64(m.n.pipe.outstanding()))
	ch <- prometheus.MustNewConstMetric(m.messages, prometheus.CounterValue, float64(st.InMsgs), "in")
	ch <- prometheus.MustNewConstMetric(m.messages, prometheus.CounterValue, float64(st.OutMsgs), "out")
	ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.CounterValue, float64(st.InBytes), "in")
	ch <- prometheus.MustNewConstMetric(m.bytes, prometheus.CounterValue, float64(st.OutBytes), "out")
	ch <- prometheus.MustNewConstMetric(m.reconnects, prometheus.CounterValue, float64(st.Reconnects))
}
