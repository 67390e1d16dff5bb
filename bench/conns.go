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

// openMany opens n connections with open, at most concurrency at once,
// recording each one's latency in h and its failure in t when they are not
// nil. Without t, the first failure stops it and is returned. It returns the
// connections that opened, in no particular order.
func openMany(ctx context.Context, n, concurrency int, opts *Options, h *hist.Histogram, t *tally, open func(context.Context, int) (holder, error)) ([]holder, error) {
	var (
		next    atomic.Int64
		mu      sync.Mutex
		holders = make([]holder, 0, n)
		first   error
		wg      sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(concurrency, n) {
		wg.Go(func() {
			local := hist.New()
			defer func() {
				if h != nil {
					mu.Lock()
					h.Merge(local)
					mu.Unlock()
				}
			}()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				openCtx, cancelOpen := context.WithTimeout(ctx, opts.CallTimeout)
				t0 := time.Now()
				c, err := open(openCtx, i)
				latency := time.Since(t0)
				cancelOpen()
				mu.Lock()
				if err == nil {
					holders = append(holders, c)
				}
				mu.Unlock()
				switch {
				case err == nil:
					local.Record(latency.Nanoseconds())
				case t != nil:
					t.fail(fmt.Errorf("connection %d: %w", i, err), false)
				default:
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d: %w", i, err)
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		})
	}
	wg.Wait()
	return holders, first
}

// manyOpener is a driver that opens the held connections of the connect
// and idle scenarios itself, more cheaply than openMany calling its hold
// once per connection can: the plain driver on Linux, whose connections
// are so cheap for the server that a goroutine, a net.Conn and the
// netpoller per connection made the load generator the bottleneck.
type manyOpener interface {
	// openMany does what the function openMany does with the driver's
	// hold from sourceAddr(i, opts.SourceAddrs): n connections, at most
	// k opening at once, each within opts.CallTimeout, each success's
	// latency recorded in h and each failure in t (without t, the first
	// failure stops it and is returned), none begun once ctx has ended.
	openMany(ctx context.Context, n, k int, opts *Options, h *hist.Histogram, t *tally) ([]holder, error)
}

// openHolders opens the n held connections of the connect and idle
// scenarios, k at a time, as openMany does: with d's own opener when it
// has one (see manyOpener), else with its hold.
func openHolders(ctx context.Context, d driver, n, k int, opts *Options, h *hist.Histogram, t *tally) ([]holder, error) {
	if m, ok := d.(manyOpener); ok {
		return m.openMany(ctx, n, k, opts, h, t)
	}
	return openHeld(ctx, d, n, k, opts, h, t)
}

// openHeld opens n connections with d's hold, from the scenarios' source
// addresses, k at a time (see openMany).
func openHeld(ctx context.Context, d driver, n, k int, opts *Options, h *hist.Histogram, t *tally) ([]holder, error) {
	return openMany(ctx, n, k, opts, h, t, func(ctx context.Context, i int) (holder, error) {
		return d.hold(ctx, sourceAddr(i, opts.SourceAddrs))
	})
}

// closeAll closes connections, 64 at a time.
func closeAll(holders []holder) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, h := range holders {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_ = h.close()
		})
	}
	wg.Wait()
}

// runConnect measures how fast N connections open (handshake and identity),
// K at a time; they stay open until all have opened, then close.
func runConnect(ctx context.Context, d driver, srv *server, spec Spec, opts *Options, r *Result) error {
	r.Unit = "connections"
	var t tally
	h := hist.New()
	m := startMeter(srv)
	holders, _ := openHolders(ctx, d, spec.N, spec.K, opts, h, &t)
	m.stop()
	defer closeAll(holders)
	if m.err != nil {
		return m.err
	}
	t.ops = uint64(len(holders))
	t.fill(r)
	r.LatencyUs = latencyOf(h)
	m.fill(r)
	r.ServerRSS, _ = srv.rss()
	return ctx.Err()
}

// runIdle opens N connections, holds them idle for spec.Duration and reads
// how much memory and CPU the server spends on them.
func runIdle(ctx context.Context, d driver, srv *server, spec Spec, opts *Options, r *Result) error {
	r.Unit = "connections"
	heapBefore, haveHeap, err := srv.heap(ctx)
	if err != nil {
		return err
	}
	rssBefore, err := srv.rss()
	if err != nil {
		return err
	}
	var t tally
	h := hist.New()
	m := startMeter(srv)
	holders, _ := openHolders(ctx, d, spec.N, 64, opts, h, &t)
	m.stop()
	defer closeAll(holders)
	if m.err != nil {
		return m.err
	}
	r.LatencyUs = latencyOf(h)
	if err := sleep(ctx, spec.Warmup); err != nil {
		return err
	}
	before, err := srv.cpu()
	if err != nil {
		return err
	}
	if err := sleep(ctx, spec.Duration); err != nil {
		return err
	}
	after, err := srv.cpu()
	if err != nil {
		return err
	}
	r.IdleCPUPercent = 100 * (after - before).Seconds() / spec.Duration.Seconds()
	heapAfter, _, err := srv.heap(ctx)
	if err != nil {
		return err
	}
	if r.ServerRSS, err = srv.rss(); err != nil {
		return err
	}
	alive := 0
	for _, c := range holders {
		select {
		case <-c.done():
			t.fail(errors.New("an idle connection closed"), false)
		default:
			alive++
		}
	}
	t.ops = uint64(alive)
	t.fill(r)
	m.fill(r) // rate and CPU per connection of opening them
	if alive > 0 {
		r.RSSPerConn = float64(r.ServerRSS-rssBefore) / float64(alive)
		if haveHeap {
			r.HeapPerConn = float64(heapAfter.HeapInuse-heapBefore.HeapInuse) / float64(alive)
		}
	}
	return ctx.Err()
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
