package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/monologue-go/monologue/bench"
	"github.com/monologue-go/monologue/bench/procfs"
)

// config is the command line of monologue-bench.
type config struct {
	scenario, peers, preset string
	spec                    bench.Spec
	sweepK                  string
	jsonFile, markdownFile  string
	plotFile                string
	list                    bool
	// peersSet tells whether --peers was given: the cluster preset's
	// default is bench.ClusterPeers.
	peersSet bool
	opts     bench.Options
}

// parseFlags parses the command line; a usage error is exitError(2).
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("monologue-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `usage: monologue-bench [flags]

Measure monologue against peers (NATS over WebSocket, Socket.IO, a floor
relay), each server in a child process, on loopback. Prints a table; see
bench/README.md. For the issue 4 set, on a quiet machine:

  monologue-bench --preset issue4 --markdown bench.md --json bench.jsonl --plot bench.png

For issue 9's, one node against three (monologue serve in cluster mode,
routed nats-servers, Socket.IO over Redis):

  monologue-bench --preset cluster --markdown cluster.md --json cluster.jsonl

flags:`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.scenario, "scenario", "rpc", "rpc, fanout, connect, idle or all")
	fs.StringVar(&cfg.peers, "peers", strings.Join(bench.Peers, ","), "peers to measure, comma-separated")
	fs.StringVar(&cfg.preset, "preset", "", "a named set of runs instead of --scenario and sizes: "+strings.Join(bench.Presets, " or ")+" (cluster: on peers "+strings.Join(bench.ClusterPeers, ",")+" unless --peers)")
	fs.IntVar(&cfg.spec.P, "P", 1, "rpc: caller/callee pairs")
	fs.IntVar(&cfg.spec.K, "K", 1, "rpc: calls in flight per caller; fanout: messages in flight; connect: connections opening at once")
	fs.IntVar(&cfg.spec.S, "S", 64, "rpc, fanout: payload bytes")
	fs.IntVar(&cfg.spec.N, "N", 1000, "fanout: subscribers; connect, idle: connections (at most 19000)")
	fs.DurationVar(&cfg.spec.Duration, "duration", 5*time.Second, "measured interval of each run (idle: how long connections are held)")
	fs.DurationVar(&cfg.spec.Warmup, "warmup", time.Second, "unmeasured run before each measurement (idle: settling time)")
	fs.IntVar(&cfg.spec.Nodes, "nodes", 0, "rpc, fanout: run each peer on this many nodes (monologue serve, in cluster mode when > 1; nats-servers routed together; Socket.IO over Redis); callers call callees on another node, subscribers are spread; 0: the single peer servers")
	fs.StringVar(&cfg.opts.MonologueBinary, "monologue-bin", "", "the monologue command whose serve runs monologue's nodes (default: built from this repository with go build)")
	fs.StringVar(&cfg.opts.RedisServer, "redis-server", "redis-server", "the redis-server command the Socket.IO nodes share (--nodes > 1)")
	fs.IntVar(&cfg.spec.MaxOps, "max-calls", 0, "end a measurement after this many calls (fanout: deliveries); 0: --duration only")
	fs.StringVar(&cfg.sweepK, "sweep-k", "", "rpc: run once per K in this list, e.g. 1,2,4,8,16 (default with --plot: 1,2,4,8,16)")
	fs.StringVar(&cfg.jsonFile, "json", "", "append one JSON line per run to this file")
	fs.StringVar(&cfg.markdownFile, "markdown", "", "write the results as a markdown table to this file")
	fs.StringVar(&cfg.plotFile, "plot", "", "draw calls/s and p99 against K (the sweep) into this PNG file")
	fs.BoolVar(&cfg.list, "list", false, "print the runs the other flags select, and exit")
	fs.BoolVar(&cfg.opts.Pin, "pin", true, "pin servers to core 0 and the load generator to core 1 (needs taskset)")
	fs.DurationVar(&cfg.opts.LoadSample, "load-sample", time.Second, "sample the machine's load for this long before each run")
	fs.DurationVar(&cfg.opts.CallTimeout, "timeout", 10*time.Second, "bound on each call, fan-out message and connection")
	fs.IntVar(&cfg.opts.SourceAddrs, "source-addrs", 8, "spread many-connection scenarios over this many source addresses 127.0.0.2…")
	fs.StringVar(&cfg.opts.JSDir, "js-dir", "", "directory of the Socket.IO server (default: bench/js, found from the working directory)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, exitError(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "monologue-bench takes no arguments (got %q)\n", fs.Args())
		return cfg, exitError(2)
	}
	fs.Visit(func(f *flag.Flag) { cfg.peersSet = cfg.peersSet || f.Name == "peers" })
	cfg.opts.Peers = bench.ParseList(cfg.peers)
	if cfg.preset == "cluster" && !cfg.peersSet {
		cfg.opts.Peers = bench.ClusterPeers
	}
	return cfg, nil
}

// runBench runs the benchmark; its Go peers' servers are this executable
// run as "monologue-bench peer NAME" (runPeer).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	specs, sweep, err := specsOf(cfg)
	if err != nil {
		return err
	}
	if cfg.list {
		for _, s := range append(specs, sweep...) {
			fmt.Fprintf(stdout, "%-36s duration %v, warm-up %v, peers %s\n", s, s.Duration, s.Warmup, strings.Join(cfg.opts.Peers, ","))
		}
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	cfg.opts.PeerCommand = peerCommandOf(exe)
	cfg.opts.Log = stderr
	if cfg.opts.MonologueBinary == "" && needsMonologueBinary(cfg, append(specs, sweep...)) {
		dir, err := os.MkdirTemp("", "monologue-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintln(stderr, "monologue-bench: building cmd/monologue for the runs on nodes (or pass --monologue-bin)")
		if cfg.opts.MonologueBinary, err = bench.BuildMonologue(ctx, dir); err != nil {
			return fmt.Errorf("%w (pass a built one with --monologue-bin)", err)
		}
	}
	if cfg.opts.Pin && !procfs.HaveTaskset() {
		fmt.Fprintln(stderr, "monologue-bench: taskset not found: servers and load generator are not pinned")
	}
	var jsonOut *os.File
	if cfg.jsonFile != "" {
		if jsonOut, err = os.OpenFile(cfg.jsonFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			return fmt.Errorf("open --json file: %w", err)
		}
		defer jsonOut.Close()
	}
	var jsonErr error
	results, runErr := bench.Run(ctx, append(specs, sweep...), &cfg.opts, func(r bench.Result) {
		if jsonOut != nil && jsonErr == nil {
			jsonErr = bench.WriteJSONLines(jsonOut, []bench.Result{r})
		}
	})
	split := min(len(results), len(specs)*len(cfg.opts.Peers))
	measured, swept := results[:split], results[split:]
	fmt.Fprintln(stdout)
	err = errors.Join(runErr, jsonErr, bench.WriteTable(stdout, results))
	if len(results) > 0 {
		pinned := "no"
		if results[0].Pinned {
			pinned = "yes (servers on core 0, load generator on core 1)"
		}
		fmt.Fprintf(stdout, "\npinned: %s; server CPU from /proc/PID/stat in 10 ms ticks\n", pinned)
	}
	if cfg.markdownFile != "" {
		err = errors.Join(err, writeMarkdown(cfg, measured, swept))
	}
	if cfg.plotFile != "" {
		err = errors.Join(err, writePlot(cfg, swept))
	}
	return err
}

// needsMonologueBinary reports whether some run is of monologue on nodes,
// which run the monologue command.
func needsMonologueBinary(cfg config, specs []bench.Spec) bool {
	if !slices.Contains(cfg.opts.Peers, "monologue") && !slices.Contains(cfg.opts.Peers, "monologue+plain") {
		return false
	}
	return slices.ContainsFunc(specs, func(s bench.Spec) bool { return s.Nodes > 0 })
}

// specsOf returns the runs of the command line, and apart from them the
// K sweep that --plot draws.
func specsOf(cfg config) (specs, sweep []bench.Spec, err error) {
	ks, err := bench.ParseInts(cfg.sweepK)
	if err != nil {
		return nil, nil, fmt.Errorf("--sweep-k: %w", err)
	}
	if len(ks) == 0 && cfg.plotFile != "" {
		ks = bench.DefaultSweepK
	}
	if cfg.preset != "" {
		if specs, err = bench.Preset(cfg.preset, cfg.spec.Duration, cfg.spec.Warmup); err != nil {
			return nil, nil, err
		}
		if len(ks) > 0 { // the sweep: P=50, 64-byte payloads
			base := cfg.spec
			base.P, base.S = 50, 64
			sweep = bench.SweepK(base, ks)
		}
		return specs, sweep, nil
	}
	if cfg.scenario == "rpc" || cfg.scenario == "all" {
		// The sweep replaces the single rpc run.
		if specs, err = bench.Specs(cfg.scenario, cfg.spec, nil); err != nil {
			return nil, nil, err
		}
		if len(ks) > 0 {
			specs = specs[1:]
			sweep = bench.SweepK(cfg.spec, ks)
		}
		return specs, sweep, nil
	}
	if cfg.plotFile != "" {
		return nil, nil, errors.New("--plot draws the rpc K sweep: use --scenario rpc or all, or --preset")
	}
	specs, err = bench.Specs(cfg.scenario, cfg.spec, nil)
	return specs, nil, err
}
