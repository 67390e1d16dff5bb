package bench

import (
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Scenarios are the scenario names a Spec may have.
var Scenarios = []string{"rpc", "fanout", "connect", "idle"}

// Peers are the peers Run knows, monologue first: it is what the others are
// compared to. A name with "+plain" is the same server driven by plain
// clients, which write every frame by itself (as browsers, node's ws,
// wscat and gorilla do); the others are driven by each peer's own client
// (for monologue, the Go client, which puts the frames it has queued into
// one write).
var Peers = []string{"monologue", "monologue+plain", "nats", "socketio", "floor", "floor+plain"}

// ClusterPeers are the peers that run as several nodes (Spec.Nodes): the
// floor relay has no cluster mode.
var ClusterPeers = []string{"monologue", "monologue+plain", "nats", "socketio"}

// Spec is one measurement: a scenario and its sizes. Every peer runs it with
// the same values.
type Spec struct {
	// Scenario is rpc, fanout, connect or idle.
	Scenario string `json:"scenario"`
	// P is the number of caller/callee pairs (rpc).
	P int `json:"p,omitempty"`
	// K is the number of calls in flight per caller (rpc), of messages in
	// flight (fanout), or of connections being opened at once (connect).
	K int `json:"k,omitempty"`
	// S is the payload size in bytes (rpc, fanout).
	S int `json:"s,omitempty"`
	// N is the number of subscribers (fanout) or connections (connect, idle).
	N int `json:"n,omitempty"`
	// Duration bounds the measured interval (rpc, fanout), or how long the
	// idle connections are held. Zero: 5 s.
	Duration time.Duration `json:"duration"`
	// Warmup runs the scenario unmeasured before the measured interval
	// (rpc, fanout), or lets the idle server settle before its memory is
	// read. Zero: none.
	Warmup time.Duration `json:"warmup"`
	// MaxOps bounds the measured calls (rpc) or deliveries (fanout); the
	// interval ends at whichever of Duration and MaxOps comes first.
	// Zero: no bound but Duration.
	MaxOps int `json:"maxOps,omitempty"`
	// Nodes, when positive, runs each peer as a deployment of that many
	// server nodes (rpc and fanout only, the peers of ClusterPeers): the
	// monologue command's serve, in cluster mode over its embedded NATS
	// when there are several; nats-servers routed together; Socket.IO
	// servers sharing a Redis through its adapter. Each caller calls a
	// callee on the next node, round robin; subscribers are spread over the
	// nodes and the publisher is on the first. Zero: the peer's single
	// server as package peers runs it (or server.js without Redis).
	Nodes int `json:"nodes,omitempty"`
}

// String describes the spec's sizes, e.g. "rpc P=50 K=8 S=64", with
// " nodes=3" after them for a deployment of several nodes.
func (s Spec) String() string {
	nodes := ""
	if s.Nodes > 0 {
		nodes = fmt.Sprintf(" nodes=%d", s.Nodes)
	}
	switch s.Scenario {
	case "rpc":
		return fmt.Sprintf("rpc P=%d K=%d S=%d%s", s.P, s.K, s.S, nodes)
	case "fanout":
		return fmt.Sprintf("fanout N=%d K=%d S=%d%s", s.N, s.K, s.S, nodes)
	case "connect":
		return fmt.Sprintf("connect N=%d K=%d", s.N, s.K)
	}
	return fmt.Sprintf("%s N=%d", s.Scenario, s.N)
}

// withDefaults fills the zero sizes of s.
func (s Spec) withDefaults() Spec {
	if s.P <= 0 {
		s.P = 1
	}
	if s.K <= 0 {
		s.K = 1
	}
	if s.S <= 0 {
		s.S = 64
	}
	if s.N <= 0 {
		s.N = 1000
	}
	if s.Duration <= 0 {
		s.Duration = 5 * time.Second
	}
	return s
}

func (s Spec) validate() error {
	if !slices.Contains(Scenarios, s.Scenario) {
		return fmt.Errorf("unknown scenario %q (want one of %s)", s.Scenario, strings.Join(Scenarios, ", "))
	}
	if s.N > 19000 {
		return fmt.Errorf("%s: N=%d is over what one process may hold (20,000 open files)", s, s.N)
	}
	if s.Scenario == "rpc" && 2*s.P > 19000 {
		return fmt.Errorf("%s: P=%d needs too many connections", s, s.P)
	}
	if s.Nodes > 0 && s.Scenario != "rpc" && s.Scenario != "fanout" {
		return fmt.Errorf("%s: nodes=%d: only rpc and fanout run on several nodes", s, s.Nodes)
	}
	if s.Nodes > maxNodes {
		return fmt.Errorf("%s: at most %d nodes", s, maxNodes)
	}
	return nil
}

// maxNodes bounds Spec.Nodes: every node shares the servers' core.
const maxNodes = 8

// Options configure Run; nil means defaults.
type Options struct {
	// Peers are the peers to measure, in order. Empty: Peers.
	Peers []string
	// PeerCommand returns the command that runs peer name's server (one of
	// peers.Names) with the given monologue API key, e.g. "monologue-bench
	// peer NAME --api-key KEY". Required unless only socketio is measured.
	PeerCommand func(name, apiKey string) *exec.Cmd
	// JSDir is the directory of the Socket.IO server (server.js,
	// package.json). Empty: bench/js found from the working directory.
	JSDir string
	// MonologueBinary is the monologue command (cmd/monologue, built), whose
	// "serve" runs the monologue nodes of specs with Nodes; BuildMonologue
	// builds one. Required when such a spec runs on monologue.
	MonologueBinary string
	// RedisServer is the redis-server command the Socket.IO nodes of specs
	// with Nodes > 1 share. Empty: redis-server on PATH.
	RedisServer string
	// Pin pins each server to core 0 (taskset -c 0) and the load generator
	// to core 1, when taskset exists.
	Pin bool
	// LoadSample is how long the machine's load is sampled from /proc/stat
	// before each run. Zero: no sample, only the load average.
	LoadSample time.Duration
	// BackboneIdleSample is how long, after each run on several nodes, the
	// bytes crossing between the servers are watched while nothing is sent,
	// so that this background (heartbeats, pings) is left out of the run's.
	// Zero: 1 s; negative: not watched, nothing left out.
	BackboneIdleSample time.Duration
	// CallTimeout bounds each call, each fan-out window wait and each
	// connection. Zero: 10 s.
	CallTimeout time.Duration
	// SourceAddrs is the number of loopback source addresses (127.0.0.2 and
	// up) the many-connection scenarios spread their connections over.
	// Zero: 8.
	SourceAddrs int
	// Answer, when not nil, is what callees answer instead of echoing their
	// argument: tests use it to check that a wrong answer is an error.
	Answer func(arg string) string
	// Log receives one line of progress per run. Nil: none.
	Log io.Writer
}

func (o *Options) withDefaults() *Options {
	var out Options
	if o != nil {
		out = *o
	}
	if len(out.Peers) == 0 {
		out.Peers = Peers
	}
	if out.CallTimeout <= 0 {
		out.CallTimeout = 10 * time.Second
	}
	if out.SourceAddrs <= 0 {
		out.SourceAddrs = 8
	}
	if out.BackboneIdleSample == 0 {
		out.BackboneIdleSample = time.Second
	}
	if out.RedisServer == "" {
		out.RedisServer = "redis-server"
	}
	if out.Answer == nil {
		out.Answer = func(arg string) string { return arg }
	}
	if out.Log == nil {
		out.Log = io.Discard
	}
	return &out
}

// Presets are the names Preset knows.
var Presets = []string{"issue4", "cluster"}

// ClusterFanoutN is the number of subscribers of the cluster preset's
// fan-out: a thousand on each of three nodes.
const ClusterFanoutN = 3000

// Preset returns the specs of a named preset, for BENCHMARKS.md. "issue4"
// is the set of measurements asked for in issue 4. "cluster" is issue 9's:
// rpc P=50 K=8 with 64-byte and 4 KiB payloads, and a fan-out to
// ClusterFanoutN subscribers, each on one node and on three (callers and
// callees on different nodes, subscribers spread over them); run it on
// ClusterPeers.
func Preset(name string, duration, warmup time.Duration) ([]Spec, error) {
	switch name {
	case "cluster":
		var specs []Spec
		for _, size := range []int{64, 4096} {
			for _, nodes := range []int{1, 3} {
				specs = append(specs, Spec{Scenario: "rpc", P: 50, K: 8, S: size, Nodes: nodes, Duration: duration, Warmup: warmup})
			}
		}
		for _, nodes := range []int{1, 3} {
			specs = append(specs, Spec{Scenario: "fanout", N: ClusterFanoutN, K: 4, S: 64, Nodes: nodes, Duration: duration, Warmup: warmup})
		}
		return specs, nil
	case "issue4":
		return []Spec{
			{Scenario: "rpc", P: 1, K: 1, S: 64, Duration: duration, Warmup: warmup},
			{Scenario: "rpc", P: 50, K: 8, S: 64, Duration: duration, Warmup: warmup},
			{Scenario: "rpc", P: 50, K: 8, S: 4096, Duration: duration, Warmup: warmup},
			{Scenario: "idle", N: 15000, Duration: duration, Warmup: warmup},
			{Scenario: "fanout", N: 10000, K: 4, S: 64, Duration: duration, Warmup: warmup},
			{Scenario: "connect", N: 5000, K: 16},
		}, nil
	}
	return nil, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(Presets, ", "))
}

// SweepK returns one rpc spec per value of ks, the others as in base.
func SweepK(base Spec, ks []int) []Spec {
	specs := make([]Spec, len(ks))
	for i, k := range ks {
		specs[i] = base
		specs[i].Scenario, specs[i].K = "rpc", k
	}
	return specs
}
