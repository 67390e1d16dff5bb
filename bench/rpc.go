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
// calls in flight; every answer must equal the call's argument.
func runRPC(ctx context.Context, d driver, srv *server, spec Spec, opts *Options, r *Result) error {
	r.Unit = "calls"
	addrs := make([]string, spec.P)
	callers := make([]caller, spec.P)
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for i := range spec.P {
		addr, closeCallee, err := d.callee(ctx, opts.Answer)
		if err != nil {
			return fmt.Errorf("callee %d: %w", i, err)
		}
		closers = append(closers, closeCallee)
		addrs[i] = addr
		c, err := d.caller(ctx)
		if err != nil {
			return fmt.Errorf("caller %d: %w", i, err)
		}
		closers = append(closers, c.close)
		callers[i] = c
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
	t.fill(r)
	merged := hist.New()
	for _, h := range hists {
		merged.Merge(h)
	}
	r.LatencyUs = latencyOf(merged)
	m.fill(r)
	return ctx.Err()
}

// measure runs the warm-up, then the measured interval until spec.Duration
// passes or done is closed, and returns its meter; the workers are told to
// stop when it returns.
func measure(ctx context.Context, srv *server, spec Spec, phase *atomic.Int32, done <-chan struct{}) *meter {
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
