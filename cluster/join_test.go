package cluster_test

import (
	"testing"
	"time"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
)

// TestJoinWhileOthersBeat joins a node while another beats every few
// milliseconds, so that heartbeats reach the joining node while it draws
// its tag and attaches (a data race there once; run with -race), and
// checks that the new node then knows the other. (The other, beating so
// often, takes a node unheard of for 15 ms for dead: it is not asked.)
func TestJoinWhileOthersBeat(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	startNode(t, cluster.Options{Conn: backbone.Connect(t), HeartbeatInterval: 5 * time.Millisecond}, gateway.Options{APIKeys: senderKeys})
	for range 3 {
		b := startNode(t, cluster.Options{Conn: backbone.Connect(t)}, gateway.Options{APIKeys: senderKeys})
		waitNodes(t, 2, b)
	}
}
