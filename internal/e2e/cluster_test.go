package e2e

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

// clusterNodes is how many nodes the cluster modes run.
const clusterNodes = 3

// startCluster returns a start function for cluster mode: three gateway
// nodes, each joined to the cluster over the NATS connection that connect
// returns for it (node i of the test's NATS side, set up once per server
// by setup).
func startCluster(setup func(t *testing.T) func(t *testing.T, i int) *nats.Conn) func(t *testing.T, cfg Config) Server {
	return func(t *testing.T, cfg Config) Server {
		t.Helper()
		connect := setup(t)
		srv := Server{APIKey: testAPIKey}
		for i := range clusterNodes {
			nc := connect(t, i)
			n, err := cluster.New(context.Background(), cluster.Options{Conn: nc, Logger: errorLogger})
			if err != nil {
				t.Fatalf("node %d joins: %v", i, err)
			}
			opts := gatewayOptions(cfg)
			n.Configure(&opts)
			srv.Nodes = append(srv.Nodes, node(gatewaytest.Start(t, opts)))
		}
		return srv
	}
}

// TestClusterEmbedded runs the suite on three nodes that each run an
// embedded NATS server, routed together: a cluster of nothing but the
// binary. Every subtest's connections are spread over the nodes.
func TestClusterEmbedded(t *testing.T) {
	Run(t, startCluster(func(t *testing.T) func(*testing.T, int) *nats.Conn {
		servers := clustertest.Embedded(t, "e2e", clusterNodes)
		return func(t *testing.T, i int) *nats.Conn { return clustertest.Connect(t, servers[i]) }
	}))
}

// TestClusterExternalNATS runs the suite on three nodes joined through one
// NATS server of their own.
func TestClusterExternalNATS(t *testing.T) {
	Run(t, startCluster(func(t *testing.T) func(*testing.T, int) *nats.Conn {
		n := clustertest.StartNATS(t)
		return func(t *testing.T, _ int) *nats.Conn { return n.Connect(t) }
	}))
}
