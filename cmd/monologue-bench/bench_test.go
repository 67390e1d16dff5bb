package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monologue-go/monologue/bench"
)

// TestRunStartsPeersAsChildren runs a tiny rpc measurement on every Go peer
// through the command line, so that each peer's server is this executable
// run as "monologue-bench peer NAME", as the built command runs them.
func TestRunStartsPeersAsChildren(t *testing.T) {
	t.Setenv(envAsCommand, "1")
	t.Setenv("GORACE", "atexit_sleep_ms=0") // a race-enabled child sleeps 1 s at exit unless told not to
	results := filepath.Join(t.TempDir(), "results.jsonl")
	var stdout, stderr bytes.Buffer
	status := run([]string{
		"--peers", "monologue,nats,floor", "-P", "1", "-K", "2", "--max-calls", "200",
		"--duration", "1m", "--warmup", "0", "--pin=false", "--load-sample", "0",
		"--source-addrs", "3", "--json", results,
	}, &stdout, &stderr)
	if status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr.String())
	}
	data, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var peers []string
	for line := range strings.Lines(string(data)) {
		var r bench.Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		peers = append(peers, r.Peer)
		if r.Error != "" || r.Errors != 0 || r.Ops != 200 {
			t.Errorf("%s on %s: ops %d (want 200), errors %d %q, run error %q", r.Spec, r.Peer, r.Ops, r.Errors, r.ErrorSamples, r.Error)
		}
	}
	if got := strings.Join(peers, ","); got != "monologue,nats,floor" {
		t.Errorf("results for peers %s, want monologue,nats,floor", got)
	}
}

// TestRunOnNodes runs rpc on three routed nats nodes through the command
// line: each node is this executable run as "monologue-bench peer nats
// --cluster-listen … --cluster-peers …".
func TestRunOnNodes(t *testing.T) {
	t.Setenv(envAsCommand, "1")
	t.Setenv("GORACE", "atexit_sleep_ms=0")
	results := filepath.Join(t.TempDir(), "results.jsonl")
	var stdout, stderr bytes.Buffer
	status := run([]string{
		"--peers", "nats", "--nodes", "3", "-P", "3", "-K", "2", "--max-calls", "100",
		"--duration", "1m", "--warmup", "0", "--pin=false", "--load-sample", "0", "--json", results,
	}, &stdout, &stderr)
	if status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr.String())
	}
	data, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	var r bench.Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	if r.Nodes != 3 || r.Error != "" || r.Errors != 0 || r.Ops != 100 || r.BackboneBytes == 0 {
		t.Errorf("%s on %s: ops %d (want 100), errors %d %q, run error %q, backbone %d bytes",
			r.Spec, r.Peer, r.Ops, r.Errors, r.ErrorSamples, r.Error, r.BackboneBytes)
	}
	if !strings.Contains(stdout.String(), "backbone B/msg") {
		t.Errorf("the table has no backbone column:\n%s", stdout.String())
	}
}

func TestListCluster(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if status := run([]string{"--preset", "cluster", "--list"}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr.String())
	}
	want := `rpc P=50 K=8 S=64 nodes=1
rpc P=50 K=8 S=64 nodes=3
rpc P=50 K=8 S=4096 nodes=1
rpc P=50 K=8 S=4096 nodes=3
fanout N=3000 K=4 S=64 nodes=1
fanout N=3000 K=4 S=64 nodes=3`
	var got []string
	for line := range strings.Lines(stdout.String()) {
		if !strings.HasSuffix(strings.TrimSpace(line), "peers "+strings.Join(bench.ClusterPeers, ",")) {
			t.Errorf("line %q: want the cluster peers", line)
		}
		name, _, _ := strings.Cut(line, " duration")
		got = append(got, strings.TrimSpace(name))
	}
	if strings.Join(got, "\n") != want {
		t.Errorf("runs:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func TestList(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if status := run([]string{"--preset", "issue4", "--plot", "sweep.png", "--list"}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, stderr.String())
	}
	lines := 0
	for scanner := bufio.NewScanner(&stdout); scanner.Scan(); lines++ {
		if !strings.HasSuffix(scanner.Text(), "peers "+strings.Join(bench.Peers, ",")) {
			t.Errorf("line %q does not name every peer", scanner.Text())
		}
	}
	preset, err := bench.Preset("issue4", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The preset's runs, then the K sweep --plot adds.
	if want := len(preset) + len(bench.DefaultSweepK); lines != want {
		t.Errorf("%d runs listed, want %d:\n%s", lines, want, stdout.String())
	}
}

func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{"extra"}, 2, "takes no arguments"},
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"-h"}, 0, "usage: monologue-bench [flags]"},
		{[]string{peerCommand}, 2, "usage: monologue-bench peer NAME"},
		{[]string{peerCommand, "nope"}, 1, `start peer "nope": unknown`},
	} {
		var stdout, stderr bytes.Buffer
		if status := run(c.args, &stdout, &stderr); status != c.status || !strings.Contains(stderr.String(), c.stderr) {
			t.Errorf("%q: status %d, stderr %q; want %d and %q", c.args, status, stderr.String(), c.status, c.stderr)
		}
	}
}
