package lambdaemu

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// PollerOptions configures a [Poller]. Queue, QueueURL and Function are
// required.
type PollerOptions struct {
	// Queue is the SQS client.
	Queue *sqs.Client
	// QueueURL is the queue polled.
	QueueURL string
	// QueueARN is the eventSourceARN of the records. Zero: empty.
	QueueARN string
	// Function receives the SQS events.
	Function Invoker
	// Concurrency is how many batches are in the function at once, as the
	// mapping's maximum concurrency. Zero: 2.
	Concurrency int
	// BatchSize is the most messages of one event (at most 10). Zero: 10.
	BatchSize int32
	// VisibilityTimeout hides received messages from other receivers; a
	// message neither deleted nor reported done reappears after it. Zero:
	// the queue's.
	VisibilityTimeout time.Duration
	// Logger receives failed polls and invocations. Nil: slog.Default().
	Logger *slog.Logger
}

// Poller stands in for Lambda's SQS event source mapping, which nothing
// emulates: each of Concurrency loops receives a batch, invokes the
// function with it as an SQS event, and deletes the messages the function
// did not report in batchItemFailures (ReportBatchItemFailures). A failed
// invocation deletes nothing. Messages not deleted come back after the
// visibility timeout, and the queue's redrive policy moves them to its
// dead-letter queue after maxReceiveCount receives.
type Poller struct {
	opts   PollerOptions
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// StartPoller starts polling until Close.
func StartPoller(opts PollerOptions) *Poller {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	if opts.BatchSize <= 0 || opts.BatchSize > 10 {
		opts.BatchSize = 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Poller{opts: opts, cancel: cancel}
	for range opts.Concurrency {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for ctx.Err() == nil {
				if err := p.poll(ctx); err != nil && ctx.Err() == nil {
					p.opts.Logger.Warn("SQS poll", "queue", opts.QueueURL, "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(200 * time.Millisecond):
					}
				}
			}
		}()
	}
	return p
}

// Close stops the loops and waits for the batches in the function.
func (p *Poller) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

// poll receives one batch and hands it to the function.
func (p *Poller) poll(ctx context.Context) error {
	in := &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.opts.QueueURL),
		MaxNumberOfMessages:         p.opts.BatchSize,
		WaitTimeSeconds:             1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	}
	if p.opts.VisibilityTimeout > 0 {
		in.VisibilityTimeout = int32(max(1, p.opts.VisibilityTimeout/time.Second))
	}
	out, err := p.opts.Queue.ReceiveMessage(ctx, in)
	if err != nil {
		return fmt.Errorf("receive: %w", err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(out.Messages))}
	handles := make(map[string]string, len(out.Messages))
	for i, m := range out.Messages {
		id := aws.ToString(m.MessageId)
		handles[id] = aws.ToString(m.ReceiptHandle)
		attrs := map[string]string{}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		ev.Records[i] = events.SQSMessage{
			MessageId: id, ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body),
			Attributes: attrs, EventSource: "aws:sqs", EventSourceARN: p.opts.QueueARN, AWSRegion: "us-east-1",
		}
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	resp, err := p.opts.Function.Invoke(ctx, payload)
	if err != nil {
		return fmt.Errorf("invoke with %d messages: %w", len(ev.Records), err)
	}
	var result events.SQSEventResponse
	if err := json.Unmarshal(resp, &result); err != nil {
		return fmt.Errorf("decode response %q: %w", resp, err)
	}
	for _, f := range result.BatchItemFailures {
		delete(handles, f.ItemIdentifier)
	}
	if len(handles) == 0 {
		return nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, 0, len(handles))
	for _, h := range handles {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(len(entries))), ReceiptHandle: aws.String(h)})
	}
	del, err := p.opts.Queue.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.opts.QueueURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("delete %d messages: %w", len(entries), err)
	}
	if len(del.Failed) > 0 {
		return fmt.Errorf("delete: %d of %d refused", len(del.Failed), len(entries))
	}
	return nil
}
