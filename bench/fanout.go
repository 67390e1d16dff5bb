package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monologue-go/monologue/bench/hist"
	"github.com/nats-io/nuid"
)

// fanoutDeliveries bounds the messages of one fan-out run: counters are
// kept for at most this many deliveries.
const fanoutDeliveries = 50_000_000

// latencyShards is the number of histograms deliveries are recorded in
// (under a mutex each), so that thousands of subscribers do not share one.
const latencyShards = 16

// errDuplicate marks a message delivered twice to the subscribers.
var errDuplicate = errors.New("more deliveries than subscribers")

// runFanout measures a channel with N subscribers: one publisher keeps K
// messages in flight (a message is in flight until all N subscribers have
// it); every delivery must carry the payload published, and every message
// must reach every subscriber. drivers holds one driver per node:
// subscriber i is on node i mod n, the publisher on the first.
func runFanout(ctx context.Context, drivers []driver, srv gauge, spec Spec, opts *Options, r *Result) error {
	r.Unit = "deliveries"
	channel := "bench.fanout." + nuid.Next()
	pad := padding(spec.S)
	epoch := time.Now()
	maxMessages := max(1024, fanoutDeliveries/spec.N)
	counts := make([]atomic.Int32, maxMessages)
	// finished counts the deliveries of a message that have been fully
	// accounted for; the last one frees the message's window slot, so the
	// drain never reads delivered while a delivery is half recorded.
	finished := make([]atomic.Int32, maxMessages)
	window := make(chan struct{}, spec.K)
	var (
		measuredFrom atomic.Uint64 // first measured sequence number
		delivered    atomic.Uint64 // verified deliveries of measured messages
		t            tally
		shards       [latencyShards]struct {
			sync.Mutex
			h *hist.Histogram
		}
	)
	measuredFrom.Store(math.MaxUint64)
	for i := range shards {
		shards[i].h = hist.New()
	}
	// settled counts the subscribers that have had a settling message
	// (several nodes only).
	settledSubscribers := make([]atomic.Bool, spec.N)
	var settled atomic.Int64
	deliver := func(subscriber int) func([]byte) {
		shard := subscriber % latencyShards
		return func(p []byte) {
			if bytes.HasPrefix(p, settlePayload) {
				if settledSubscribers[subscriber].CompareAndSwap(false, true) {
					settled.Add(1)
				}
				return
			}
			now := time.Since(epoch).Nanoseconds()
			seq, sent, ok := parseFanout(p, pad)
			if !ok || seq >= uint64(maxMessages) {
				t.fail(fmt.Errorf("%w: received %.48q", errMismatch, p), true)
				return
			}
			n := counts[seq].Add(1)
			if n > int32(spec.N) {
				t.fail(fmt.Errorf("%w: message %d", errDuplicate, seq), true)
				return
			}
			if seq >= measuredFrom.Load() {
				s := &shards[shard]
				s.Lock()
				s.h.Record(now - sent)
				s.Unlock()
				delivered.Add(1)
			}
			if finished[seq].Add(1) == int32(spec.N) {
				<-window // the message is complete and counted: free its slot
			}
		}
	}

	n := len(drivers)
	holders, err := openMany(ctx, spec.N, 64, opts, nil, nil, func(ctx context.Context, i int) (holder, error) {
		return drivers[i%n].subscribe(ctx, sourceAddr(i, opts.SourceAddrs), channel, deliver(i))
	})
	defer closeAll(holders)
	if err != nil {
		return fmt.Errorf("subscribers: %w", err)
	}
	pub, err := drivers[0].publisher(ctx)
	if err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	defer pub.close()
	if n > 1 {
		if err := settleFanout(ctx, pub, channel, &settled, spec.N); err != nil {
			return err
		}
	}

	var seq uint64
	publish := func(until time.Time, limit uint64) error {
		for time.Now().Before(until) && seq < limit && ctx.Err() == nil {
			select {
			case window <- struct{}{}:
			case <-time.After(opts.CallTimeout):
				return fmt.Errorf("message %d still incomplete after %v", seq+1-uint64(spec.K), opts.CallTimeout)
			}
			if err := pub.publish(ctx, channel, fanoutPayload(seq, time.Since(epoch).Nanoseconds(), pad)); err != nil {
				<-window
				return fmt.Errorf("publish: %w", err)
			}
			seq++
		}
		return nil
	}
	stall := publish(time.Now().Add(spec.Warmup), uint64(maxMessages))
	first := seq
	measuredFrom.Store(first)
	limit := uint64(maxMessages)
	if spec.MaxOps > 0 {
		limit = min(limit, first+uint64((spec.MaxOps+spec.N-1)/spec.N))
	}
	m := startMeter(srv)
	if stall == nil {
		stall = publish(time.Now().Add(spec.Duration), limit)
	}
	// Drain: every slot free means every message is complete.
	drained := 0
	deadline := time.After(opts.CallTimeout)
drain:
	for ; drained < spec.K; drained++ {
		select {
		case window <- struct{}{}:
		case <-deadline:
			break drain
		}
	}
	m.stop()
	if m.err != nil {
		return m.err
	}
	if n > 1 {
		m.idleRate = backboneIdleRate(ctx, srv, opts.BackboneIdleSample)
	}
	var missing uint64
	for s := first; s < seq; s++ {
		if n := counts[s].Load(); n < int32(spec.N) {
			missing += uint64(int32(spec.N) - n)
		}
	}
	if missing > 0 {
		t.failN(missing, fmt.Errorf("%d deliveries of %d messages never arrived", missing, seq-first), false)
	}
	if stall != nil {
		if missing == 0 {
			return stall
		}
		t.note(fmt.Errorf("publisher stopped: %w", stall))
	}
	t.ops = delivered.Load()
	r.Messages = seq - first
	t.fill(r)
	merged := hist.New()
	for i := range shards {
		shards[i].Lock()
		merged.Merge(shards[i].h)
		shards[i].Unlock()
	}
	r.LatencyUs = latencyOf(merged)
	m.fill(r)
	return ctx.Err()
}

// settlePayload begins the messages that settleFanout publishes, which the
// subscribers count apart from the measured ones.
var settlePayload = []byte("settle:")

// settleFanout publishes settling messages, every 100 ms, until each of
// the n subscribers has had one: on several nodes, a node learns of
// another's interest in the channel some time after the subscription was
// confirmed (NATS interest crossing a route, a Redis subscription), and
// the measurement starts once every node has.
func settleFanout(ctx context.Context, pub publisher, channel string, settled *atomic.Int64, n int) error {
	deadline := time.Now().Add(settleTimeout)
	for i := 0; settled.Load() < int64(n); i++ {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d subscribers had no message within %v", int64(n)-settled.Load(), n, settleTimeout)
		}
		if err := pub.publish(ctx, channel, fmt.Sprintf("%s%d", settlePayload, i)); err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}
