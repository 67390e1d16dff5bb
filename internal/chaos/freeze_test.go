package chaos

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestFrozenNode freezes one node of three with SIGSTOP, as a machine that
// is gone looks to the others: its sockets stay open, nothing answers, and
// no route closes. Its connections are gone to senders within 2 s, and the
// other nodes carry on.
func TestFrozenNode(t *testing.T) {
	c := startProcCluster(t, 3)
	const frozen = 2
	var victimIDs []string
	for i := range 2 {
		v := dial(t, c.node(frozen).url, c.key, fmt.Sprintf("client %d on node %d", i, frozen))
		victimIDs = append(victimIDs, v.whoami(t))
	}
	// Many probes: each delivery to the frozen node waits out the cluster's
	// request timeout (1 s) until the node is taken for dead, and a waiting
	// probe asks nothing more.
	probes := newProbes(t, c, []int{0, 1}, 32)
	a := dial(t, c.node(0).url, c.key, "client on node 0")
	a.whoami(t)
	b := dial(t, c.node(1).url, c.key, "client on node 1")
	b.whoami(t)

	p, frozenAt := c.signal(frozen, syscall.SIGSTOP)
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	})
	goneAfter, err := probes.untilGone(frozenAt, victimIDs, true, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the frozen node's connections were gone to the probes %v after SIGSTOP", goneAfter.Round(time.Millisecond))
	if goneAfter > goneWithin {
		t.Errorf("the frozen node's connections were gone %v after SIGSTOP, want within %v", goneAfter, goneWithin)
	}
	expectDelivered(t, a, b, "while a node is frozen")
	expectDelivered(t, b, a, "while a node is frozen")
}
