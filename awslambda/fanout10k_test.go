package awslambda_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/fakemgmt"
	"github.com/monologue-go/monologue/internal/sqslocal"
	"github.com/monologue-go/monologue/lambdaemu"
	"github.com/monologue-go/monologue/relay"
)

// TestQueuedFanout10k: one publish to 10,000 members goes through the queue
// (one job per bucket), and every member receives it exactly once. The
// members are connection IDs at a fake management API, not sockets; the
// e2e suite has real WebSocket members.
func TestQueuedFanout10k(t *testing.T) {
	client, table, _ := newTable(t)
	sqsClient := sqslocal.NewClient(sqslocal.Start(t))
	queueURL, dlqURL := sqslocal.CreateQueue(t, sqsClient, "fanout10k", 30*time.Second, 3)
	mgmt := fakemgmt.New(0)
	api := httptest.NewServer(mgmt.Handler())
	t.Cleanup(api.Close)
	endpoint := api.URL + "/latest"

	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("conn-%05d=", i)
	}
	// 10,000 members at the default target of 1,000 a bucket: 16 buckets.
	const buckets = 16
	if err := store.SubscribeAll(context.Background(), "huge", ids, buckets); err != nil {
		t.Fatal(err)
	}

	sender := awslambda.NewSender(localAWS(), awslambda.SenderOptions{Endpoint: endpoint})
	counting := &countingSQS{SQS: sqsClient}
	queued := awslambda.NewQueuedChannels(store, awslambda.QueuedOptions{Queue: counting, QueueURL: queueURL, Sender: sender})
	worker := awslambda.NewWorker(awslambda.WorkerOptions{
		Store: store, Sender: sender, Queue: counting, QueueURL: queueURL,
		CallbackBudget: 10000, Concurrency: 2, Logger: quietLogger(),
	})
	poller := lambdaemu.StartPoller(lambdaemu.PollerOptions{Queue: sqsClient, QueueURL: queueURL, Function: &awslambda.Dispatch{Worker: worker}, Concurrency: 2, Logger: quietLogger()})
	t.Cleanup(func() { poller.Close() })

	start := time.Now()
	if err := queued.Publish(context.Background(), relay.Publication{Channel: "huge", Frame: []byte(`{"n":1}`)}); err != nil {
		t.Fatal(err)
	}
	returned := time.Since(start)
	waitUntil(t, "10,000 deliveries", 40*time.Second, func() bool { return worker.Stats.Delivered.Load() >= 10000 })
	took := time.Since(start)
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show
	stats := mgmt.Stats()
	for _, id := range ids {
		if n := stats.Frames[id]; n != 1 {
			t.Fatalf("%s received %d frames, want 1", id, n)
		}
	}
	if len(stats.Frames) != len(ids) {
		t.Fatalf("%d connections received frames, want %d", len(stats.Frames), len(ids))
	}
	if jobs := worker.Stats.Jobs.Load(); jobs != int64(buckets) {
		t.Fatalf("%d jobs, want one per bucket (%d)", jobs, buckets)
	}
	if n := dlqDepth(t, &queueFixture{sqs: sqsClient, dlqURL: dlqURL}); n != 0 {
		t.Fatalf("dead-letter queue holds %d jobs", n)
	}
	t.Logf("publish returned after %v; 10,000 deliveries in %v (%d jobs, %d SendMessageBatch calls)", returned, took, worker.Stats.Jobs.Load(), counting.batches.Load())
}
