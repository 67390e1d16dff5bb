package awslambda_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/sqslocal"
	"github.com/monologue-go/monologue/lambdaemu"
	"github.com/monologue-go/monologue/relay"
)

// countingSQS counts SendMessageBatch calls.
type countingSQS struct {
	awslambda.SQS
	batches atomic.Int64
}

func (c *countingSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	c.batches.Add(1)
	return c.SQS.SendMessageBatch(ctx, in, optFns...)
}

// queueFixture is the queued path on one machine: DynamoDB Local, goaws,
// the fake management API, a worker and a poller standing in for the event
// source mapping.
type queueFixture struct {
	store    *awslambda.DynamoChannels
	queued   *awslambda.QueuedChannels
	worker   *awslambda.Worker
	api      *managementAPI
	sqs      *sqs.Client
	counting *countingSQS
	queueURL string
	dlqURL   string
}

func newQueueFixture(t *testing.T, table string, opts awslambda.WorkerOptions) *queueFixture {
	t.Helper()
	client, realTable, _ := newTable(t)
	if table == "" {
		table = realTable
	}
	endpoint := sqslocal.Start(t)
	f := &queueFixture{api: newManagementAPI(t), sqs: sqslocal.NewClient(endpoint)}
	f.queueURL, f.dlqURL = sqslocal.CreateQueue(t, f.sqs, "fanout", time.Second, 2)
	f.counting = &countingSQS{SQS: f.sqs}
	f.store = awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: realTable, BucketTarget: 10})
	sender := awslambda.NewSender(localAWS(), awslambda.SenderOptions{Endpoint: f.api.Endpoint()})
	f.queued = awslambda.NewQueuedChannels(f.store, awslambda.QueuedOptions{Queue: f.counting, QueueURL: f.queueURL, Sender: sender, InlineMax: 5})
	opts.Store = awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, BucketTarget: 10})
	opts.Sender = sender
	opts.Queue, opts.QueueURL = f.counting, f.queueURL
	f.worker = awslambda.NewWorker(opts)
	poller := lambdaemu.StartPoller(lambdaemu.PollerOptions{
		Queue: f.sqs, QueueURL: f.queueURL, Function: &awslambda.Dispatch{Worker: f.worker}, Concurrency: 2, Logger: quietLogger(),
	})
	t.Cleanup(func() { poller.Close() })
	return f
}

func (f *queueFixture) subscribe(t *testing.T, channel string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := f.store.Subscribe(context.Background(), channel, id); err != nil {
			t.Fatal(err)
		}
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestQueuedSmallChannelIsInline(t *testing.T) {
	f := newQueueFixture(t, "", awslambda.WorkerOptions{Logger: quietLogger()})
	ids := []string{"a", "b", "c"}
	for _, id := range ids {
		f.api.Connect(id)
	}
	f.subscribe(t, "small", ids...)
	if err := f.queued.Publish(context.Background(), relay.Publication{Channel: "small", Skip: "a", Frame: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	if got := f.counting.batches.Load(); got != 0 {
		t.Fatalf("a channel of 3 (inline max 5) made %d SendMessageBatch calls, want none", got)
	}
	for id, want := range map[string]int{"a": 0, "b": 1, "c": 1} {
		if got := len(f.api.Take(id)); got != want {
			t.Fatalf("%s received %d frames, want %d", id, got, want)
		}
	}
}

// TestQueuedFanout: a channel past the inline maximum goes through the
// queue; every live member receives the frame once, gone ones are deleted.
func TestQueuedFanout(t *testing.T) {
	f := newQueueFixture(t, "", awslambda.WorkerOptions{CallbackBudget: 2000, Concurrency: 2, Logger: quietLogger()})
	var live, gone []string
	for i := range 60 {
		id := fmt.Sprintf("m%02d", i)
		if i%10 == 3 {
			gone = append(gone, id)
		} else {
			live = append(live, id)
			f.api.Connect(id)
		}
		f.subscribe(t, "big", id)
	}
	// A first read spreads the channel over buckets for later subscribers.
	if err := f.store.Members(context.Background(), "big", func([]string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	f.subscribe(t, "big", live...) // renewed under 2 buckets
	publish := func() {
		if err := f.queued.Publish(context.Background(), relay.Publication{Channel: "big", Frame: []byte(`{"n":2}`)}); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	if got := f.counting.batches.Load(); got != 1 {
		t.Fatalf("publish made %d SendMessageBatch calls, want 1 (one job per bucket, up to 10 a call)", got)
	}
	waitUntil(t, "every live member to receive the frame", 10*time.Second, func() bool {
		return f.worker.Stats.Delivered.Load() == int64(len(live)) && f.worker.Stats.Gone.Load() == int64(len(gone))
	})
	for _, id := range live {
		if got := f.api.Take(id); len(got) != 1 {
			t.Fatalf("%s received %v, want one frame", id, got)
		}
	}
	waitUntil(t, "the gone members to be deleted", 5*time.Second, func() bool {
		got, _ := allMembers(t, f.store, "big")
		return slices.Equal(got, live)
	})
	if jobs := f.worker.Stats.Jobs.Load(); jobs < 2 {
		t.Fatalf("%d jobs, want one per bucket (at least 2)", jobs)
	}
	if n := dlqDepth(t, f); n != 0 {
		t.Fatalf("dead-letter queue holds %d messages, want none", n)
	}
}

// TestQueuedThrottledMemberIsRetriedThenDropped: a member that answers 429
// every time is tried by the worker, enqueued again with a delay, and
// dropped after MaxAttempts; a 413 is not retried.
func TestQueuedThrottledMemberIsRetriedThenDropped(t *testing.T) {
	f := newQueueFixture(t, "", awslambda.WorkerOptions{
		Retries: 1, Backoff: 10 * time.Millisecond, MaxAttempts: 2, RequeueDelay: time.Second, Logger: quietLogger(),
	})
	ids := []string{"ok1", "ok2", "slow", "huge", "ok3", "ok4", "ok5"}
	for _, id := range ids {
		f.api.Connect(id)
	}
	f.api.Fail("slow", http.StatusTooManyRequests)
	f.api.Fail("huge", http.StatusRequestEntityTooLarge)
	f.subscribe(t, "c", ids...)
	if err := f.queued.Publish(context.Background(), relay.Publication{Channel: "c", Frame: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the throttled member to be dropped", 10*time.Second, func() bool { return f.worker.Stats.Dropped.Load() == 1 })
	if got := f.api.Attempts("slow"); got != 4 {
		t.Fatalf("slow was tried %d times, want 4 (2 jobs × (1 + 1 retry))", got)
	}
	if got := f.api.Attempts("huge"); got != 1 {
		t.Fatalf("a 413 was tried %d times, want once", got)
	}
	if got := f.worker.Stats.Requeued.Load(); got != 1 {
		t.Fatalf("requeued %d members, want 1", got)
	}
	for _, id := range []string{"ok1", "ok2", "ok3", "ok4", "ok5"} {
		if got := f.api.Attempts(id); got != 1 {
			t.Fatalf("%s was posted to %d times, want once", id, got)
		}
	}
}

// TestQueuedFailedJobGoesToDeadLetterQueue: a job whose bucket cannot be
// read is reported as a batch item failure, received again after the
// visibility timeout, and redriven to the dead-letter queue.
func TestQueuedFailedJobGoesToDeadLetterQueue(t *testing.T) {
	f := newQueueFixture(t, "no-such-table", awslambda.WorkerOptions{Logger: quietLogger()})
	for i := range 12 {
		f.subscribe(t, "c", fmt.Sprint("m", i))
	}
	// Past the bucket target: two buckets, so one job per bucket, each
	// read by the worker (from a table that is not there).
	if err := f.store.Members(context.Background(), "c", func([]string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := f.queued.Publish(context.Background(), relay.Publication{Channel: "c", Frame: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both jobs in the dead-letter queue", 15*time.Second, func() bool { return dlqDepth(t, f) == 2 })
	if got := f.worker.Stats.Jobs.Load(); got < 4 {
		t.Fatalf("jobs handled %d times, want each twice (maxReceiveCount) before the redrive", got)
	}
}

func dlqDepth(t *testing.T, f *queueFixture) int {
	t.Helper()
	out, err := f.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(f.dlqURL), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &n)
	return n
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestQueuedPublishGrowsOnlyOnNewestBuckets: publishing to a channel of
// several buckets whose old bucket 0 is full does not double its count;
// a full one-bucket channel does.
func TestQueuedPublishGrowsOnlyOnNewestBuckets(t *testing.T) {
	f := newQueueFixture(t, "", awslambda.WorkerOptions{Logger: quietLogger()})
	ctx := context.Background()
	var ids []string
	for i := range 30 {
		ids = append(ids, fmt.Sprint("g", i))
	}
	// Bucket target 10: 30 members in one bucket double the count at the publish.
	if err := f.store.SubscribeAll(ctx, "one", ids, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.queued.Publish(ctx, relay.Publication{Channel: "one", Frame: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.store.Buckets(ctx, "one", true); b != 2 {
		t.Fatalf("buckets after publishing to 30 members in 1 bucket = %d, want 2", b)
	}
	// 30 members, all in bucket 0 of 2 (placed under count 1): no growth.
	if err := f.store.SubscribeAll(ctx, "old", ids, 1); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SubscribeAll(ctx, "old", nil, 2); err != nil {
		t.Fatal(err)
	}
	if err := f.queued.Publish(ctx, relay.Publication{Channel: "old", Frame: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := f.store.Buckets(ctx, "old", true); b != 2 {
		t.Fatalf("buckets after publishing with a full old bucket 0 = %d, want still 2", b)
	}
}
