package bench

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestClusterSmoke runs rpc and fan-out on three nodes of each peer that
// has them, at tiny sizes: monologue as the real command (built here) in
// cluster mode, nats-servers routed together, and Socket.IO over Redis when
// redis-server is installed (it is skipped otherwise: make test does not
// install Redis). Every operation must verify, and bytes must have crossed
// between the nodes; a fan-out message must cross to each other node once,
// not once per subscriber there.
func TestClusterSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	bin, err := BuildMonologue(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	specs := []Spec{
		{Scenario: "rpc", P: 3, K: 2, S: 64, MaxOps: 150, Duration: time.Minute, Nodes: 3},
		{Scenario: "fanout", N: 30, K: 2, S: 64, MaxOps: 600, Duration: time.Minute, Nodes: 3},
	}
	want := []uint64{150, 600}
	for _, peer := range ClusterPeers {
		t.Run(peer, func(t *testing.T) {
			if peer == "socketio" {
				needPeer(t, peer)
				if _, err := exec.LookPath("redis-server"); err != nil {
					t.Fatalf("the socketio peer on several nodes needs redis-server (scripts/test-deps.sh installs it): %v", err)
				}
			}
			opts := testOptions(peer)
			opts.MonologueBinary = bin
			opts.BackboneIdleSample = -1 // runs too short for it; the bound below allows for heartbeats
			results, err := Run(ctx, append([]Spec(nil), specs...), opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				t.Logf("%s  backbone %d bytes, %.0f per message", summary(r), r.BackboneBytes, r.BackboneBytesPerMessage)
				if r.Error != "" || r.Errors != 0 || r.Ops != want[i] {
					t.Errorf("%s on %s: ops %d (want %d), errors %d %q, run error %q",
						r.Spec, peer, r.Ops, want[i], r.Errors, r.ErrorSamples, r.Error)
				}
				if r.BackboneBytes == 0 {
					t.Errorf("%s on %s: no bytes crossed between the nodes", r.Spec, peer)
				}
			}
			// 20 subscribers on the two other nodes: a message of about
			// 300 bytes on the wire crossing once per subscriber would be
			// some 6,000 bytes; once per node, about 600.
			if fanout := results[1]; fanout.BackboneBytesPerMessage > 2000 {
				t.Errorf("fan-out on %s: %.0f backbone bytes per message: more than once per node", peer, fanout.BackboneBytesPerMessage)
			}
		})
	}
}

// TestNodesNeedWhatTheyRun checks the clear failures of runs on nodes:
// monologue without its command, a peer without a cluster mode.
func TestNodesNeedWhatTheyRun(t *testing.T) {
	ctx := context.Background()
	spec := Spec{Scenario: "rpc", P: 1, K: 1, MaxOps: 10, Duration: time.Second, Nodes: 2}
	for peer, want := range map[string]string{
		"monologue": "needs the monologue command",
		"floor":     "has no deployment on several nodes",
	} {
		results, err := Run(ctx, []Spec{spec}, testOptions(peer), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := results[0].Error; !strings.Contains(got, want) {
			t.Errorf("%s on 2 nodes: error %q, want %q", peer, got, want)
		}
	}
	if err := (Spec{Scenario: "idle", N: 10, Nodes: 3}).validate(); err == nil {
		t.Error("idle on 3 nodes validated")
	}
}

func TestSumBytesReceived(t *testing.T) {
	out := "0 0 127.0.0.1:1 127.0.0.1:2\n\t bbr bytes_sent:10 bytes_acked:11 bytes_received:300 segs_out:3\n" +
		"0 0 127.0.0.1:2 127.0.0.1:1\n\t bbr bytes_sent:300 bytes_received:10\n"
	if got := sumBytesReceived(out); got != 310 {
		t.Fatalf("sumBytesReceived = %d, want 310", got)
	}
}

// TestBackboneLessIdle checks that the backbone's bytes per message leave
// out what crossed while idle.
func TestBackboneLessIdle(t *testing.T) {
	m := &meter{elapsed: 2 * time.Second, haveBackbone: true, backboneUsed: 10_000, idleRate: 1_000}
	r := Result{Spec: Spec{Scenario: "fanout"}, Ops: 400, Messages: 40}
	m.fill(&r)
	if r.BackboneBytes != 8_000 || r.BackboneBytesPerMessage != 200 || r.BackboneIdleBytesPerSec != 1_000 {
		t.Fatalf("backbone %d bytes, %v per message, idle %v/s; want 8000, 200, 1000", r.BackboneBytes, r.BackboneBytesPerMessage, r.BackboneIdleBytesPerSec)
	}
	r = Result{Spec: Spec{Scenario: "rpc"}, Ops: 80}
	m.fill(&r)
	if r.BackboneBytesPerMessage != 100 {
		t.Fatalf("rpc: %v backbone bytes per call, want 100", r.BackboneBytesPerMessage)
	}
}
