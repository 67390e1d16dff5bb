package bench

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needPeer fails a test of the Socket.IO peer when node or npm is missing,
// with the way to get them (make test installs them): every peer is tested.
func needPeer(t *testing.T, peer string) {
	t.Helper()
	if peer != "socketio" {
		return
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the socketio peer needs %s (scripts/test-deps.sh installs it): %v", tool, err)
		}
	}
}

func testOptions(peer string) *Options {
	return &Options{Peers: []string{peer}, PeerCommand: testPeerCommand, CallTimeout: 10 * time.Second, SourceAddrs: 3}
}

// TestSmoke runs every scenario on every peer at tiny sizes and checks that
// every operation was verified and none failed.
func TestSmoke(t *testing.T) {
	specs := []Spec{
		{Scenario: "rpc", P: 1, K: 2, S: 64, MaxOps: 200, Duration: time.Minute},
		{Scenario: "fanout", N: 20, K: 2, S: 64, MaxOps: 200, Duration: time.Minute},
		{Scenario: "connect", N: 20, K: 4},
		{Scenario: "idle", N: 20, Duration: 50 * time.Millisecond},
	}
	want := []uint64{200, 200, 20, 20}
	for _, peer := range Peers {
		t.Run(peer, func(t *testing.T) {
			needPeer(t, peer)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			results, err := Run(ctx, append([]Spec(nil), specs...), testOptions(peer), nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range results {
				t.Logf("%s", summary(r))
				// A peer's fan-out is at most once (core NATS drops for a
				// slow consumer, as a loaded machine can make it): a
				// message short is the peer's behaviour, not a harness
				// fault. monologue's count must be exact.
				short := want[i] - r.Ops
				lossy := peer != "monologue" && r.Spec.Scenario == "fanout" && short*100 <= want[i]
				if r.Error != "" || r.Errors != 0 || (r.Ops != want[i] && !lossy) {
					t.Errorf("%s on %s: ops %d (want %d), errors %d %q, run error %q",
						r.Spec, peer, r.Ops, want[i], r.Errors, r.ErrorSamples, r.Error)
				}
				if r.Ops > 0 && (r.LatencyUs.P50 <= 0 || r.LatencyUs.P99 < r.LatencyUs.P50 || r.Rate <= 0) {
					t.Errorf("%s on %s: implausible rate %v or latencies %+v", r.Spec, peer, r.Rate, r.LatencyUs)
				}
			}
			if idle := results[3]; idle.Error == "" && idle.RSSPerConn == 0 && idle.ServerRSS == 0 {
				t.Errorf("idle on %s: no memory figures", peer)
			}
		})
	}
}

// TestWrongAnswersAreErrors makes every other callee answer wrong and checks
// that those calls count as errors (mismatches), not samples.
func TestWrongAnswersAreErrors(t *testing.T) {
	for _, peer := range []string{"monologue", "nats"} {
		t.Run(peer, func(t *testing.T) {
			opts := testOptions(peer)
			opts.Answer = func(arg string) string {
				// Calls whose token ends in 3 get an answer of the same
				// length with a wrong last byte.
				if token, _, _ := strings.Cut(arg, ":"); strings.HasSuffix(token, "3") {
					return arg[:len(arg)-1] + "y"
				}
				return arg
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			specs := []Spec{{Scenario: "rpc", P: 1, K: 1, S: 64, MaxOps: 100, Duration: time.Minute}}
			results, err := Run(ctx, specs, opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := results[0]
			t.Logf("%s", summary(r))
			if r.Error != "" {
				t.Fatal(r.Error)
			}
			if r.Mismatches == 0 || r.Errors != r.Mismatches || r.Ops+r.Errors != 100 {
				t.Fatalf("ops %d, errors %d, mismatches %d: want about 10 mismatches, all counted as errors, 100 in all",
					r.Ops, r.Errors, r.Mismatches)
			}
			if r.LatencyUs.P50 == 0 {
				t.Fatal("no latency recorded for the right answers")
			}
		})
	}
}
