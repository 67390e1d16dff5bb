package cluster_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/wire"
)

// TestMetrics: a node's GET /metrics tells the live nodes, whether its NATS
// connection is up, the NATS messages and bytes it sent and received, its
// deliveries waiting for a report, and its reconnections; beside the
// gateway's own metrics.
func TestMetrics(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	const requestTimeout = time.Second
	a := startNode(t, cluster.Options{Conn: backbone.Connect(t), RequestTimeout: requestTimeout}, gateway.Options{APIKeys: []string{deathKey}})
	b := startNode(t, cluster.Options{Conn: backbone.Connect(t)}, gateway.Options{APIKeys: []string{deathKey}})
	waitNodes(t, 2, a, b)

	before := scrape(t, a)
	for name, want := range map[string]float64{
		"monologue_cluster_nodes":                2, // b and itself
		"monologue_cluster_backbone_connected":   1,
		"monologue_cluster_deliveries_in_flight": 0,
		"monologue_connections":                  0, // the gateway's, served beside
	} {
		if got, ok := before[name]; !ok || got != want {
			t.Errorf("%s = %v (found: %v), want %v", name, got, ok, want)
		}
	}

	from, to := dialNode(t, a.srv.URL), dialNode(t, b.srv.URL)
	// 20 KiB of payload: far more than the heartbeats send meanwhile
	// (some 150 bytes each, two a second).
	const messages = 20
	payload := strings.Repeat("x", 1024)
	for range messages {
		frame := fmt.Sprintf(`{"action":"sendmessage","to":%q,"payload":%q}`, to.id, payload)
		if err := from.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	for range messages {
		if got := to.read(5 * time.Second); !strings.Contains(got, payload) {
			t.Fatalf("received %.80s…, want the payload", got)
		}
	}
	after := waitMetric(t, a, "monologue_cluster_deliveries_in_flight", 0)
	out := `monologue_cluster_backbone_messages_total{direction="out"}`
	outBytes := `monologue_cluster_backbone_bytes_total{direction="out"}`
	if after[out] <= before[out] {
		t.Errorf("NATS messages out %v → %v, want more", before[out], after[out])
	}
	if got := after[outBytes] - before[outBytes]; got < messages*float64(len(payload)) {
		t.Errorf("%v bytes out for %d messages of %d bytes: fewer than their payloads", got, messages, len(payload))
	}

	// A delivery to a node that swallows it without a report is in flight
	// until the request timeout, then answered internal.
	g := newGhost(t, backbone)
	waitMetric(t, a, "monologue_cluster_nodes", 3)
	lost := fmt.Sprintf(`{"action":"sendmessage","to":%q,"payload":"lost"}`, wire.NewConnectionIDOn(g.tag))
	if err := from.ws.WriteMessage(websocket.TextMessage, []byte(lost)); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, a, "monologue_cluster_deliveries_in_flight", 1)
	if got := from.read(5 * requestTimeout); !strings.Contains(got, `"internal"`) {
		t.Fatalf("the sender of the swallowed delivery got %s, want internal", got)
	}
	waitMetric(t, a, "monologue_cluster_deliveries_in_flight", 0)
	g.die(t)

	backbone.Stop()
	waitMetric(t, a, "monologue_cluster_backbone_connected", 0)
	backbone.Restart(t)
	back := waitMetric(t, a, "monologue_cluster_backbone_connected", 1)
	if got := back["monologue_cluster_backbone_reconnects_total"]; got < 1 {
		t.Errorf("reconnects %v after NATS came back, want at least 1", got)
	}
}

// scrape reads n's GET /metrics into samples by name and labels, as the
// text format writes them.
func scrape(t *testing.T, n testNode) map[string]float64 {
	t.Helper()
	resp, err := http.Get(n.srv.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	samples := map[string]float64{}
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		line := lines.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := lines.Err(); err != nil {
		t.Fatal(err)
	}
	return samples
}

// waitMetric scrapes n until metric name reads want, for 10 s at most,
// and returns the last scrape.
func waitMetric(t *testing.T, n testNode, name string, want float64) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		samples := scrape(t, n)
		if got, ok := samples[name]; ok && got == want {
			return samples
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after 10 s, want %v", name, samples[name], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
