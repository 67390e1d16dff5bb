package chaos

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestGracefulLeave stops one node of three with SIGTERM: its connections
// are closed with 1001, the other nodes answer gone for them at once
// (never internal: the node says it leaves), the node exits 0, and the
// others carry on.
func TestGracefulLeave(t *testing.T) {
	c := startProcCluster(t, 3)
	const leaving = 2
	var victims []*wsClient
	var victimIDs []string
	for i := range 2 {
		v := dial(t, c.node(leaving).url, c.key, fmt.Sprintf("client %d on node %d", i, leaving))
		victimIDs = append(victimIDs, v.whoami(t))
		victims = append(victims, v)
	}
	probes := newProbes(t, c, []int{0, 1}, 4)
	a := dial(t, c.node(0).url, c.key, "client on node 0")
	a.whoami(t)
	b := dial(t, c.node(1).url, c.key, "client on node 1")
	b.whoami(t)

	p, stoppedAt := c.signal(leaving, syscall.SIGTERM)
	type closed struct {
		code  int
		after time.Duration
	}
	closes := make(chan closed, len(victims))
	for _, v := range victims {
		go func() {
			code, at := v.expectClose(t, 10*time.Second)
			closes <- closed{code, at.Sub(stoppedAt)}
		}()
	}
	goneAfter, err := probes.untilGone(stoppedAt, victimIDs, false, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var lastClose time.Duration
	for range victims {
		cl := <-closes
		if cl.code != 1001 {
			t.Errorf("a connection of the leaving node was closed with %d, want 1001", cl.code)
		}
		lastClose = max(lastClose, cl.after)
	}
	c.waitExit(p)
	exitedAfter := time.Since(stoppedAt)
	t.Logf("after SIGTERM: connections closed with 1001 within %v, gone to the other nodes after %v, process exited 0 after %v",
		lastClose.Round(time.Millisecond), goneAfter.Round(time.Millisecond), exitedAfter.Round(time.Millisecond))
	if goneAfter > leaveWithin {
		t.Errorf("the leaving node's connections were gone %v after SIGTERM, want within %v", goneAfter, leaveWithin)
	}

	// The others carry on.
	for _, pair := range [][2]*wsClient{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		for _, answer := range from.roundTrip(t, fmt.Sprintf(`{"to":%q,"payload":"still here"}`, to.id), frameTimeout) {
			t.Errorf("%s to %s after the leave: %s", from.name, to.name, answer)
		}
		want := fmt.Sprintf(`{"to":%q,"from":%q,"payload":"still here"}`, to.id, from.id)
		if got := string(to.mustNext(t)); got != want {
			t.Errorf("%s received %s, want %s", to.name, got, want)
		}
	}
}

// leaveWithin bounds how long after SIGTERM the other nodes answer gone
// for a leaving node's connections: at once, well within goneWithin.
const leaveWithin = time.Second
