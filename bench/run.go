package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/monologue-go/monologue/bench/procfs"
)

// selfCPU is the load generator's CPU time so far.
func selfCPU() (time.Duration, error) { return procfs.SelfCPUTime() }

// Run measures every spec on every peer of opts: spec by spec, the peers one
// after the other, so that the runs compared with each other are close in
// time. Each run gets a fresh server. each, when not nil, receives every
// result as soon as it is known. A run that fails is reported in its
// Result's Error and the others go on; Run itself fails only on unusable
// specs or options, or when ctx ends.
func Run(ctx context.Context, specs []Spec, opts *Options, each func(Result)) ([]Result, error) {
	opts = opts.withDefaults()
	for i := range specs {
		specs[i] = specs[i].withDefaults()
		if err := specs[i].validate(); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
	}
	for _, p := range opts.Peers {
		if !slices.Contains(Peers, p) {
			return nil, fmt.Errorf("bench: unknown peer %q (want some of %v)", p, Peers)
		}
	}
	pinned := false
	if opts.Pin && procfs.HaveTaskset() && runtime.NumCPU() > loadCore {
		previous, err := procfs.PinSelf(loadCore)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		pinned = true
		defer func() { _ = procfs.Unpin(runtime.NumCPU(), previous) }()
	}
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	apiKey := hex.EncodeToString(key)

	var results []Result
	for _, spec := range specs {
		for _, peer := range opts.Peers {
			if err := ctx.Err(); err != nil {
				return results, fmt.Errorf("bench: %w", err)
			}
			r := runOne(ctx, peer, spec, opts, apiKey)
			r.Pinned = r.Pinned && pinned
			results = append(results, r)
			fmt.Fprintf(opts.Log, "%-36s %-10s %s\n", spec, peer, summary(r))
			if each != nil {
				each(r)
			}
		}
	}
	return results, nil
}

// runOne runs spec on peer with a server (or a deployment) of its own.
func runOne(ctx context.Context, peer string, spec Spec, opts *Options, apiKey string) Result {
	r := Result{Spec: spec, Peer: peer, Time: time.Now().UTC(), Machine: sampleMachine(ctx, opts.LoadSample)}
	if spec.Nodes > 0 {
		runDeployed(ctx, peer, spec, opts, apiKey, &r)
		return r
	}
	srv, err := startServer(ctx, peer, apiKey, opts)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer srv.stop()
	r.Pinned = srv.pinned
	d, err := newDriver(peer, srv.ready, apiKey)
	if err == nil {
		switch spec.Scenario {
		case "rpc":
			err = runRPC(ctx, []driver{d}, srv, spec, opts, &r)
		case "fanout":
			err = runFanout(ctx, []driver{d}, srv, spec, opts, &r)
		case "connect":
			err = runConnect(ctx, d, srv, spec, opts, &r)
		case "idle":
			err = runIdle(ctx, d, srv, spec, opts, &r)
		}
	}
	if r.ServerRSS == 0 {
		r.ServerRSS, _ = srv.rss()
	}
	if dead := srv.alive(); dead != nil {
		err = errors.Join(err, dead)
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// runDeployed runs spec (rpc or fanout) on spec.Nodes nodes of peer, with
// a driver per node.
func runDeployed(ctx context.Context, peer string, spec Spec, opts *Options, apiKey string, r *Result) {
	dep, err := startDeployment(ctx, peer, spec.Nodes, apiKey, opts)
	if err != nil {
		r.Error = err.Error()
		return
	}
	defer dep.stop()
	r.Pinned = dep.pinned()
	drivers := make([]driver, len(dep.nodes))
	for i, node := range dep.nodes {
		if drivers[i], err = newDriver(peer, node.ready, apiKey); err != nil {
			break
		}
	}
	if err == nil {
		switch spec.Scenario {
		case "rpc":
			err = runRPC(ctx, drivers, dep, spec, opts, r)
		case "fanout":
			err = runFanout(ctx, drivers, dep, spec, opts, r)
		}
	}
	r.ServerRSS, _ = dep.rss()
	if dead := dep.alive(); dead != nil {
		err = errors.Join(err, dead)
	}
	if err != nil {
		r.Error = err.Error()
	}
}

// sampleMachine reads the load average and, over sample, each core's busy
// time.
func sampleMachine(ctx context.Context, sample time.Duration) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if avg, err := procfs.LoadAvg(); err == nil {
		m.Load1 = avg[0]
	}
	if sample <= 0 {
		return m
	}
	before, err := procfs.ReadCoreTimes()
	if err != nil || sleep(ctx, sample) != nil {
		return m
	}
	if after, err := procfs.ReadCoreTimes(); err == nil {
		m.Busy = procfs.BusyFractions(before, after)
	}
	return m
}
