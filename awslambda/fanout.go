package awslambda

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// DefaultFanoutInlineMax is the largest channel a publish delivers itself;
// a larger one (or one of more than one bucket) goes to the queue.
const DefaultFanoutInlineMax = 1000

// QueuedChannels is the memberships store of a function with a fan-out
// queue: a [DynamoChannels] that also publishes. A channel of one bucket
// and at most InlineMax members is delivered inline, as the relay would;
// a larger one becomes one [Job] per bucket on the queue, and Publish
// returns once they are enqueued. A [Worker] delivers them.
type QueuedChannels struct {
	*DynamoChannels
	opts QueuedOptions
}

// QueuedOptions configures a [QueuedChannels]. Queue, QueueURL and Sender
// are required.
type QueuedOptions struct {
	// Queue is the SQS client.
	Queue SQS
	// QueueURL is the fan-out queue.
	QueueURL string
	// Sender delivers inline publications.
	Sender relay.Sender
	// InlineMax is the most members a publish delivers inline. Zero:
	// DefaultFanoutInlineMax; negative: every publication is queued.
	InlineMax int
	// Concurrency bounds the sends of an inline publication. Zero:
	// DefaultFanoutConcurrency.
	Concurrency int
	// Logger receives failed deliveries. Nil: slog.Default().
	Logger *slog.Logger
}

var (
	_ relay.Channels         = (*QueuedChannels)(nil)
	_ relay.ChannelPublisher = (*QueuedChannels)(nil)
)

// NewQueuedChannels returns store publishing through opts.Queue.
func NewQueuedChannels(store *DynamoChannels, opts QueuedOptions) *QueuedChannels {
	if opts.InlineMax == 0 {
		opts.InlineMax = DefaultFanoutInlineMax
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultFanoutConcurrency
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &QueuedChannels{DynamoChannels: store, opts: opts}
}

// Publish reads bucket 0 of p.Channel (one Query per page, which also reads
// the bucket count). A channel of one bucket and at most InlineMax members
// is delivered from it; a larger channel of one bucket is enqueued as jobs
// naming its members, as read now; a channel of several buckets becomes
// one job per bucket, each read by its worker. Jobs go out 10 to a
// SendMessageBatch call, and Publish returns.
//
// A member that joins a channel of several buckets after a publish, but
// before a worker reads its bucket, receives that message too.
func (q *QueuedChannels) Publish(ctx context.Context, p relay.Publication) error {
	var ids []string
	count, buckets, err := q.query(ctx, bucketKey(p.Channel, 0), func(page []string) error {
		for _, id := range page {
			if id != p.Skip {
				ids = append(ids, id)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	buckets = max(buckets, 1)
	if buckets == 1 && len(ids) == 0 {
		return nil
	}
	if buckets == 1 && q.opts.InlineMax >= 0 && count <= q.opts.InlineMax {
		gone, _ := deliver(ctx, q.opts.Sender, ids, p.Tenant, p.Skip, p.Frame, deliverOptions{concurrency: q.opts.Concurrency, log: q.opts.Logger})
		for _, id := range gone {
			if err := q.Unsubscribe(ctx, p.Channel, id); err != nil {
				q.opts.Logger.WarnContext(ctx, "drop stale subscription", "channel", p.Channel, "connection", id, "err", err)
			}
		}
		return q.grow(ctx, p.Channel, buckets, count)
	}
	job := Job{Channel: p.Channel, Tenant: p.Tenant, Skip: p.Skip, Frame: p.Frame, Endpoint: endpointFrom(ctx)}
	var jobs []Job
	if buckets == 1 {
		for start := 0; start < len(ids); start += maxRetryIDs {
			j := job
			j.IDs = ids[start:min(start+maxRetryIDs, len(ids))]
			jobs = append(jobs, j)
		}
	} else {
		for b := range buckets {
			j := job
			j.Bucket, j.Buckets = b, buckets
			jobs = append(jobs, j)
		}
	}
	if _, err := enqueue(ctx, q.opts.Queue, q.opts.QueueURL, jobs, 0); err != nil {
		return fmt.Errorf("awslambda: publish to %q: %w", p.Channel, err)
	}
	if buckets > 1 {
		return nil // bucket 0 is not one of the newest: the workers of those check
	}
	return q.grow(ctx, p.Channel, buckets, count)
}

// deliverOptions shapes a delivery: inline (no limiter, no retries) or a
// worker's.
type deliverOptions struct {
	concurrency int
	limiter     *Limiter // nil: unpaced
	retries     int      // further tries of a 429 or a transient error, with back-off
	backoff     time.Duration
	log         *slog.Logger
	stats       *Stats // nil: counted nowhere
}

// deliver sends frame to ids but skip, and returns the members found gone
// (410) and those it could not reach (429 or a transient error after its
// retries). A 413 or 403 is logged and not retried.
func deliver(ctx context.Context, sender relay.Sender, ids []string, tenant, skip string, frame []byte, opts deliverOptions) (gone, failed []string) {
	if opts.stats == nil {
		opts.stats = new(Stats) // counted, and forgotten
	}
	var mu sync.Mutex
	next := atomic.Int64{}
	var wg sync.WaitGroup
	workers := min(max(opts.concurrency, 1), len(ids))
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) || ctx.Err() != nil {
					return
				}
				id := ids[i]
				if id == skip {
					continue
				}
				outcome := sendOne(ctx, sender, relay.Delivery{To: id, Tenant: tenant, Frame: frame}, opts)
				mu.Lock()
				switch outcome {
				case outcomeGone:
					gone = append(gone, id)
				case outcomeFailed:
					failed = append(failed, id)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return gone, failed
}

type outcome int

const (
	outcomeDelivered outcome = iota
	outcomeGone
	outcomeFailed  // may succeed later
	outcomeRefused // 413, 403: never will
)

// sendOne sends d, pacing with and steering opts.limiter, retrying a 429 or
// a transient error opts.retries times with jittered exponential back-off.
func sendOne(ctx context.Context, sender relay.Sender, d relay.Delivery, opts deliverOptions) outcome {
	backoff := opts.backoff
	for attempt := 0; ; attempt++ {
		if opts.limiter != nil {
			if err := opts.limiter.Wait(ctx); err != nil {
				return outcomeFailed
			}
		}
		opts.stats.add(&opts.stats.Posts, 1)
		err := sender.Send(ctx, d)
		switch {
		case err == nil:
			opts.stats.add(&opts.stats.Delivered, 1)
			if opts.limiter != nil {
				opts.limiter.Succeeded()
			}
			return outcomeDelivered
		case errors.Is(err, wire.ErrGone):
			opts.stats.add(&opts.stats.Gone, 1)
			return outcomeGone
		case errors.Is(err, wire.ErrPayloadTooLarge), errors.Is(err, wire.ErrForbidden):
			opts.stats.add(&opts.stats.Refused, 1)
			opts.log.WarnContext(ctx, "publish delivery refused", "connection", d.To, "err", err)
			return outcomeRefused
		case errors.Is(err, wire.ErrRateLimited):
			opts.stats.add(&opts.stats.Throttled, 1)
			if opts.limiter != nil {
				opts.limiter.Throttled()
			}
		default:
			if opts.limiter == nil { // inline: as the relay, log and move on
				opts.log.WarnContext(ctx, "publish delivery failed", "connection", d.To, "err", err)
			}
		}
		if attempt >= opts.retries || ctx.Err() != nil {
			return outcomeFailed
		}
		// Full jitter over [backoff/2, backoff).
		sleep := backoff/2 + time.Duration(rand.Int64N(int64(backoff/2)+1))
		timer := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			timer.Stop()
			return outcomeFailed
		case <-timer.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
