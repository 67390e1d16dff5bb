package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monologue-go/monologue/bench/hist"
)

// Phases of a measured scenario, read by its workers.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// errMismatch marks an answer that does not match what was sent.
var errMismatch = errors.New("answer does not match")

// runRPC measures echo calls: P callers each call their own callee with K
// calls in flight; every answer must equal the call's argument. drivers
// holds one driver per node: caller i is on node i mod n, and its callee on
// the next node, so that on several nodes every call crosses from one node
// to another.
func runRPC(ctx context.Context, drivers []driver, srv gauge, spec Spec, opts *Options, r *Result) error {
	r.Unit = "calls"
	addrs := make([]string, spec.P)
	callers := make([]caller, spec.P)
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	n := len(drivers)
	for i := range spec.P {
		addr, closeCallee, err := drivers[(i+1)%n].callee(ctx, opts.Answer)
		if err != nil {
			return fmt.Errorf("callee %d: %w", i, err)
		}
		closers = append(closers, closeCallee)
		addrs[i] = addr
		c, err := drivers[i%n].caller(ctx)
		if err != nil {
			return fmt.Errorf("caller %d: %w", i, err)
		}
		closers = append(closers, c.close)
		callers[i] = c
	}
	if n > 1 {
		if err := settleRPC(ctx, callers, addrs, opts); err != nil {
			return err
		}
	}

	pad := padding(spec.S)
	var (
		phase  atomic.Int32
		issued atomic.Int64
		token  atomic.Uint64
		t      tally
		wg     sync.WaitGroup
	)
	hists := make([]*hist.Histogram, spec.P*spec.K)
	for w := range hists {
		h := hist.New()
		hists[w] = h
		c, to := callers[w/spec.K], addrs[w/spec.K]
		wg.Go(func() {
			var ok uint64
			defer func() {
				t.mu.Lock()
				t.ops += ok
				t.mu.Unlock()
			}()
			for {
				started := phase.Load()
				if started == phaseStop || ctx.Err() != nil {
					return
				}
				if started == phaseMeasure && spec.MaxOps > 0 && issued.Add(1) > int64(spec.MaxOps) {
					return
				}
				arg := rpcArg(token.Add(1), pad)
				callCtx, cancel := context.WithTimeout(ctx, opts.CallTimeout)
				t0 := time.Now()
				ret, err := c.call(callCtx, to, arg)
				latency := time.Since(t0)
				cancel()
				if started != phaseMeasure {
					continue
				}
				switch {
				case err != nil:
					t.fail(err, false)
				case ret != arg:
					t.fail(fmt.Errorf("%w: sent %.32q…, got %.32q…", errMismatch, arg, ret), true)
				case phase.Load() == phaseMeasure: // answered within the interval
					h.Record(latency.Nanoseconds())
					ok++
				}
			}
		})
	}
	allDone := make(chan struct{})
	go func() {
		wg.Wait()
		close(allDone)
	}()
	m := measure(ctx, srv, spec, &phase, allDone)
	<-allDone
	if err := m.err; err != nil {
		return err
	}
	if n > 1 {
		m.idleRate = backboneIdleRate(ctx, srv, opts.BackboneIdleSample)
	}
	t.fill(r)
	merged := hist.New()
	for _, h := range hists {
		merged.Merge(h)
	}
	r.LatencyUs = latencyOf(merged)
	m.fill(r)
	return ctx.Err()
}

// settleTimeout bounds how long the nodes of a deployment may take to
// reach each other before a run.
const settleTimeout = 30 * time.Second

// settleRPC makes one verified call from each caller to its callee,
// retrying while the nodes learn of each other (routes, interest,
// heartbeats), so that the measurement starts on a cluster that has formed.
func settleRPC(ctx context.Context, callers []caller, addrs []string, opts *Options) error {
	const arg = "settle"
	deadline := time.Now().Add(settleTimeout)
	for i, c := range callers {
		for {
			callCtx, cancel := context.WithTimeout(ctx, min(opts.CallTimeout, 2*time.Second))
			ret, err := c.call(callCtx, addrs[i], arg)
			cancel()
			if err == nil && ret == arg {
				break
			}
			if err == nil {
				err = fmt.Errorf("%w: got %.32q", errMismatch, ret)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("caller %d did not reach its callee on another node within %v: %w", i, settleTimeout, err)
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

// measure runs the warm-up, then the measured interval until spec.Duration
// passes or done is closed, and returns its meter; the workers are told to
// stop when it returns.
func measure(ctx context.Context, srv gauge, spec Spec, phase *atomic.Int32, done <-chan struct{}) *meter {
	if spec.Warmup > 0 {
		select {
		case <-time.After(spec.Warmup):
		case <-ctx.Done():
		case <-done:
		}
	}
	m := startMeter(srv)
	phase.Store(phaseMeasure)
	timer := time.NewTimer(spec.Duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-done:
	case <-ctx.Done():
	}
	m.stop()
	phase.Store(phaseStop)
	return m
}
