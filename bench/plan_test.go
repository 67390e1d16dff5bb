package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSpecs(t *testing.T) {
	base := Spec{P: 2, K: 3, S: 10, N: 20}
	specs, err := Specs("all", base, []int{1, 4})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.String())
	}
	want := "rpc P=2 K=1 S=10,rpc P=2 K=4 S=10,fanout N=20 K=3 S=10,connect N=20 K=3,idle N=20"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("Specs = %s\nwant     %s", got, want)
	}
	if _, err := Specs("nope", base, nil); err == nil {
		t.Fatal("no error for an unknown scenario")
	}
	if _, err := ParseInts("1,x"); err == nil {
		t.Fatal("ParseInts accepted x")
	}
	if ks, err := ParseInts(" 1, 2,,16 "); err != nil || len(ks) != 3 || ks[2] != 16 {
		t.Fatalf("ParseInts = %v, %v", ks, err)
	}
}

func TestPresetIssue4(t *testing.T) {
	specs, err := Preset("issue4", 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		if err := s.withDefaults().validate(); err != nil {
			t.Error(err)
		}
		names = append(names, s.String())
	}
	want := "rpc P=1 K=1 S=64,rpc P=50 K=8 S=64,rpc P=50 K=8 S=4096,idle N=15000,fanout N=10000 K=4 S=64,connect N=5000 K=16"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("issue4 = %s\nwant     %s", got, want)
	}
	if _, err := Preset("nope", 0, 0); err == nil {
		t.Fatal("no error for an unknown preset")
	}
}

func TestReports(t *testing.T) {
	results := []Result{
		{Spec: Spec{Scenario: "rpc", P: 1, K: 1, S: 64}, Peer: "monologue", Unit: "calls", Ops: 1000, Rate: 20000, Pinned: true,
			LatencyUs: Latency{P50: 40, P90: 50, P99: 80, P999: 120}, ServerCPUUsPerOp: 12.5, Machine: Machine{Load1: 0.2, Busy: []float64{0.01, 0.5}}},
		{Spec: Spec{Scenario: "rpc", P: 1, K: 1, S: 64}, Peer: "nats", Unit: "calls", Ops: 1000, Rate: 25000, Pinned: true},
		{Spec: Spec{Scenario: "idle", N: 10}, Peer: "monologue", Unit: "connections", Ops: 10, RSSPerConn: 4096, Pinned: true},
		{Spec: Spec{Scenario: "idle", N: 10}, Peer: "floor", Unit: "connections", Ops: 10, RSSPerConn: 8192, Pinned: true},
		{Spec: Spec{Scenario: "rpc", P: 1, K: 1, S: 64}, Peer: "socketio", Error: "start socketio: no node", Pinned: true},
	}
	var table bytes.Buffer
	if err := WriteTable(&table, results); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1.25×", "2.00×", "20000 calls", "failed: start socketio: no node", "0.20 (1%/50%)", "4.0 KiB"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, results); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(md.String(), "\n")
	if !strings.HasPrefix(lines[0], "| scenario | peer |") || !strings.HasPrefix(lines[1], "|---|") ||
		strings.Count(lines[2], "|") != len(columnsOf(results))+1 || !strings.Contains(md.String(), "pinned to core 0") {
		t.Errorf("markdown:\n%s", md.String())
	}
	var js bytes.Buffer
	if err := WriteJSONLines(&js, results); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(js.String(), "\n")
	var back Result
	if err := json.Unmarshal([]byte(first), &back); err != nil || back.Peer != "monologue" || back.LatencyUs.P99 != 80 || back.P != 1 {
		t.Fatalf("JSON line %s: %+v, %v", first, back, err)
	}
	if n := strings.Count(js.String(), "\n"); n != len(results) {
		t.Fatalf("%d JSON lines for %d results", n, len(results))
	}
	chart := SweepChart("t", results)
	if len(chart.Series) != 2 || chart.Series[0].Points[0].Rate != 20000 {
		t.Fatalf("SweepChart = %+v", chart)
	}
}

func TestPresetCluster(t *testing.T) {
	specs, err := Preset("cluster", 5*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range specs {
		if err := s.withDefaults().validate(); err != nil {
			t.Error(err)
		}
		names = append(names, s.String())
	}
	want := "rpc P=50 K=8 S=64 nodes=1,rpc P=50 K=8 S=64 nodes=3,rpc P=50 K=8 S=4096 nodes=1,rpc P=50 K=8 S=4096 nodes=3," +
		"fanout N=3000 K=4 S=64 nodes=1,fanout N=3000 K=4 S=64 nodes=3"
	if got := strings.Join(names, ","); got != want {
		t.Fatalf("cluster = %s\nwant      %s", got, want)
	}
}

// TestClusterReport checks the columns of runs on nodes: backbone bytes per
// message and CPU per operation against the same peer on one node.
func TestClusterReport(t *testing.T) {
	one := Spec{Scenario: "rpc", P: 50, K: 8, S: 64, Nodes: 1}
	three := one
	three.Nodes = 3
	results := []Result{
		{Spec: one, Peer: "monologue", Unit: "calls", Ops: 100, Rate: 1000, ServerCPUUsPerOp: 4},
		{Spec: one, Peer: "nats", Unit: "calls", Ops: 100, Rate: 500, ServerCPUUsPerOp: 10},
		{Spec: three, Peer: "monologue", Unit: "calls", Ops: 100, Rate: 800, ServerCPUUsPerOp: 7, BackboneBytes: 40000, BackboneBytesPerMessage: 400},
		{Spec: three, Peer: "nats", Unit: "calls", Ops: 100, Rate: 400, ServerCPUUsPerOp: 25, BackboneBytes: 30000, BackboneBytesPerMessage: 300},
	}
	var table bytes.Buffer
	if err := WriteTable(&table, results); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"backbone B/msg", "CPU/op vs 1 node", "1.75×", "2.50×", "400", "rpc P=50 K=8 S=64 nodes=3"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if strings.Contains(table.String(), "RSS/conn") {
		t.Errorf("a table without idle runs has idle columns:\n%s", table.String())
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, results); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(md.String(), "\n")
	if n := strings.Count(lines[2], "|"); n != len(columnsOf(results))+1 || !strings.Contains(md.String(), "On several nodes") {
		t.Errorf("markdown (%d cells):\n%s", n, md.String())
	}
}
