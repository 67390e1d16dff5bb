package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
)

// quiet discards the nodes' and gateways' logs.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// senderLimit is the frame limit of the Sender suite's gateways: small, so
// that filling a stalled connection's queue is quick.
const senderLimit = 8 << 10

// senderKeys are the API keys of the Sender suite's gateways: two tenants.
var senderKeys = []string{"cluster-sender-key-0", "cluster-sender-key-1"}

// testNode is a cluster node serving a gateway on loopback.
type testNode struct {
	node *cluster.Node
	srv  *gatewaytest.Server
}

// startNode joins a node to the cluster with co (its logs discarded) and
// serves its gateway with opts until the test ends.
func startNode(t *testing.T, co cluster.Options, opts gateway.Options) testNode {
	t.Helper()
	co.Logger = quiet
	n, err := cluster.New(context.Background(), co)
	if err != nil {
		t.Fatalf("join: %v", err)
	}
	opts.Logger = quiet
	n.Configure(&opts)
	return testNode{node: n, srv: gatewaytest.Start(t, opts)}
}

// waitNodes waits until every node counts want live nodes, itself included.
func waitNodes(t *testing.T, want int, nodes ...testNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, n := range nodes {
		for len(n.node.Nodes()) < want {
			if time.Now().After(deadline) {
				t.Fatalf("node %s knows %d live nodes after 10 s, want %d", n.node.Tag(), len(n.node.Nodes()), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// peer dials n's gateway with the key of tenant and returns the
// connection as the Sender suite sees it.
func peer(t *testing.T, n testNode, tenant int) relaytest.Peer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(n.srv.URL, http.Header{"X-Api-Key": {senderKeys[tenant]}})
	if err != nil {
		t.Fatalf("dial %s: %v", n.srv.URL, err)
	}
	t.Cleanup(func() { ws.Close() })
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	id := string(data)
	label, ok := n.srv.Gateway.TenantOf(id)
	if !ok {
		t.Fatalf("connection %s unknown to its gateway", id)
	}
	return relaytest.Peer{
		ID:     id,
		Tenant: label,
		Next: func(t *testing.T) []byte {
			t.Helper()
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("read from %s: %v", id, err)
			}
			return data
		},
		Close: func(t *testing.T) {
			t.Helper()
			ws.Close()
			deadline := time.Now().Add(5 * time.Second)
			for {
				if _, ok := n.srv.Gateway.TenantOf(id); !ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("connection %s not forgotten within 5 s", id)
				}
				time.Sleep(10 * time.Millisecond)
			}
		},
	}
}

// TestSenderConformance runs relaytest's Sender suite against a node's
// Sender: to connections of another node (deliveries as NATS requests) and
// to the node's own connections (straight to its gateway).
func TestSenderConformance(t *testing.T) {
	for _, remote := range []bool{true, false} {
		name := "Local"
		if remote {
			name = "Remote"
		}
		t.Run(name, func(t *testing.T) {
			relaytest.TestSender(t, func(t *testing.T) relaytest.SenderHarness {
				backbone := clustertest.StartNATS(t)
				opts := gateway.Options{APIKeys: senderKeys, MaxMessageSize: senderLimit, SendQueueBytes: 64 << 10}
				a := startNode(t, cluster.Options{Conn: backbone.Connect(t)}, opts)
				target := a
				if remote {
					target = startNode(t, cluster.Options{Conn: backbone.Connect(t)}, opts)
					waitNodes(t, 2, a, target)
				}
				connect := func(t *testing.T, tenant int) relaytest.Peer { return peer(t, target, tenant) }
				return relaytest.SenderHarness{
					Sender:         a.node.Sender(),
					Connect:        connect,
					Stall:          func(t *testing.T) relaytest.Peer { return connect(t, 0) }, // and never read
					MaxMessageSize: senderLimit,
					Tenants:        true,
				}
			})
		})
	}
}

// TestChannelsConformance runs relaytest's Channels suite against a node's
// channel store. The store holds the memberships of its node's own
// connections, which is all the suite asks of a store.
func TestChannelsConformance(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	relaytest.TestChannels(t, func(t *testing.T) relay.Channels {
		n, err := cluster.New(context.Background(), cluster.Options{Conn: backbone.Connect(t), Logger: quiet})
		if err != nil {
			t.Fatalf("join: %v", err)
		}
		t.Cleanup(func() { _ = n.Close() })
		return n.Channels()
	})
}
