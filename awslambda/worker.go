package awslambda

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/monologue-go/monologue/relay"
)

// Defaults of a [Worker].
const (
	// DefaultCallbackBudget is the PostToConnection calls per second that
	// all workers together may make: half of the account's default 10,000
	// requests/s, leaving the rest to the API's other calls.
	DefaultCallbackBudget = 5000
	// DefaultWorkerConcurrency is the event source mapping's maximum
	// concurrency: how many workers run at once.
	DefaultWorkerConcurrency = 10
	// DefaultMaxJobAttempts is how many times a member's delivery is
	// enqueued again before it is dropped.
	DefaultMaxJobAttempts = 3
)

// WorkerOptions configures a [Worker]. Store, Sender, Queue and QueueURL
// are required.
type WorkerOptions struct {
	// Store holds the memberships the jobs' buckets are read from.
	Store *DynamoChannels
	// Sender posts to connections; its client should not retry (the
	// worker does, paced).
	Sender relay.Sender
	// Queue and QueueURL are where retries are enqueued.
	Queue    SQS
	QueueURL string
	// CallbackBudget is the PostToConnection calls per second of all
	// workers together. Zero: DefaultCallbackBudget.
	CallbackBudget float64
	// Concurrency is the event source mapping's maximum concurrency; each
	// worker gets CallbackBudget/Concurrency. Zero: DefaultWorkerConcurrency.
	Concurrency int
	// SendConcurrency bounds one worker's calls in flight. Zero:
	// DefaultFanoutConcurrency.
	SendConcurrency int
	// Retries is how often a worker tries a 429 again itself, backing off,
	// before enqueueing the member again. Zero: 2.
	Retries int
	// Backoff is the first back-off after a 429. Zero: 100 ms.
	Backoff time.Duration
	// RequeueDelay is the delay of a member's first retry job; each
	// further one doubles it (SQS caps it at 15 minutes). Zero: 1 s.
	RequeueDelay time.Duration
	// MaxAttempts is how many jobs a member's delivery may take before it
	// is dropped and counted. Zero: DefaultMaxJobAttempts.
	MaxAttempts int
	// Logger receives failures. Nil: slog.Default().
	Logger *slog.Logger
}

// Stats counts a worker's work. Read it with atomic loads.
type Stats struct {
	Jobs      atomic.Int64 // jobs handled
	Posts     atomic.Int64 // PostToConnection calls
	Delivered atomic.Int64 // frames delivered
	Gone      atomic.Int64 // 410s: members deleted
	Throttled atomic.Int64 // 429s
	Refused   atomic.Int64 // 413s and 403s, not retried
	Requeued  atomic.Int64 // members enqueued again
	Dropped   atomic.Int64 // members given up on after MaxAttempts
}

func (s *Stats) add(counter *atomic.Int64, n int64) { counter.Add(n) }

// Worker handles the fan-out queue's SQS events: for each job it reads its
// bucket and posts the frame to every member, paced by a [Limiter] of
// CallbackBudget/Concurrency requests per second. A member gone (410) is
// unsubscribed; one still throttled after the worker's own retries is
// enqueued again in a retry job, delayed RequeueDelay·2^attempt, and dropped
// after MaxAttempts. A job whose bucket cannot be read, or whose retry
// cannot be enqueued, is reported as a batch item failure, for SQS to
// deliver again (and, past the queue's maxReceiveCount, to move to the
// dead-letter queue). It is safe for concurrent use: each concurrent
// invocation (in Lambda, each instance runs one at a time) paces itself
// with a limiter of its own.
type Worker struct {
	opts     WorkerOptions
	limiters chan *Limiter
	// Stats counts what the worker did.
	Stats Stats
}

// NewWorker returns a Worker.
func NewWorker(opts WorkerOptions) *Worker {
	if opts.CallbackBudget <= 0 {
		opts.CallbackBudget = DefaultCallbackBudget
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultWorkerConcurrency
	}
	if opts.SendConcurrency <= 0 {
		opts.SendConcurrency = DefaultFanoutConcurrency
	}
	if opts.Retries <= 0 {
		opts.Retries = 2
	}
	if opts.Backoff <= 0 {
		opts.Backoff = 100 * time.Millisecond
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxJobAttempts
	}
	if opts.RequeueDelay <= 0 {
		opts.RequeueDelay = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	w := &Worker{opts: opts, limiters: make(chan *Limiter, opts.Concurrency)}
	for range opts.Concurrency {
		w.limiters <- NewLimiter(opts.CallbackBudget / float64(opts.Concurrency))
	}
	return w
}

// Handle processes an SQS event's jobs in turn and reports those that
// failed, by message ID, for the event source mapping's partial batch
// responses (ReportBatchItemFailures).
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var limiter *Limiter
	select {
	case limiter = <-w.limiters:
	case <-ctx.Done():
		return events.SQSEventResponse{}, ctx.Err()
	}
	defer func() { w.limiters <- limiter }()
	var resp events.SQSEventResponse
	for _, msg := range ev.Records {
		if err := w.job(ctx, limiter, msg.Body); err != nil {
			w.opts.Logger.ErrorContext(ctx, "fan-out job failed", "message", msg.MessageId, "err", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: msg.MessageId})
		}
	}
	return resp, nil
}

// job delivers one job.
func (w *Worker) job(ctx context.Context, limiter *Limiter, body string) error {
	var job Job
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		// Redelivering cannot help: drop it, loudly.
		w.opts.Logger.ErrorContext(ctx, "fan-out job undecodable, dropped", "err", err)
		return nil
	}
	w.Stats.Jobs.Add(1)
	if job.Endpoint != "" && endpointFrom(ctx) == "" {
		ctx = withEvent(ctx, &eventInfo{endpoint: job.Endpoint})
	}
	opts := deliverOptions{
		concurrency: w.opts.SendConcurrency, limiter: limiter, retries: w.opts.Retries,
		backoff: w.opts.Backoff, log: w.opts.Logger, stats: &w.Stats,
	}
	var gone, failed []string
	send := func(ids []string) error {
		g, f := deliver(ctx, w.opts.Sender, ids, job.Tenant, job.Skip, job.Frame, opts)
		gone = append(gone, g...)
		failed = append(failed, f...)
		return ctx.Err()
	}
	var err error
	if len(job.IDs) > 0 {
		err = send(job.IDs)
	} else {
		_, err = w.opts.Store.BucketMembers(ctx, job.Channel, job.Bucket, job.Buckets, send)
	}
	for _, id := range gone {
		if uerr := w.opts.Store.Unsubscribe(ctx, job.Channel, id); uerr != nil {
			w.opts.Logger.WarnContext(ctx, "drop stale subscription", "channel", job.Channel, "connection", id, "err", uerr)
		}
	}
	if err != nil {
		return fmt.Errorf("awslambda: fan-out of %q bucket %d: %w", job.Channel, job.Bucket, err)
	}
	return w.requeue(ctx, job, failed)
}

// requeue enqueues failed again, delayed, or drops them after MaxAttempts.
func (w *Worker) requeue(ctx context.Context, job Job, failed []string) error {
	if len(failed) == 0 {
		return nil
	}
	if job.Attempt+1 >= w.opts.MaxAttempts {
		w.Stats.Dropped.Add(int64(len(failed)))
		w.opts.Logger.WarnContext(ctx, "fan-out deliveries dropped", "channel", job.Channel, "members", len(failed), "attempts", job.Attempt+1)
		return nil
	}
	var jobs []Job
	for start := 0; start < len(failed); start += maxRetryIDs {
		retry := job
		retry.IDs = failed[start:min(start+maxRetryIDs, len(failed))]
		retry.Attempt++
		jobs = append(jobs, retry)
	}
	delay := int32(w.opts.RequeueDelay/time.Second) << job.Attempt
	if _, err := enqueue(ctx, w.opts.Queue, w.opts.QueueURL, jobs, delay); err != nil {
		return err
	}
	w.Stats.Requeued.Add(int64(len(failed)))
	return nil
}
