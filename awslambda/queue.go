package awslambda

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS is the part of *sqs.Client that the queued fan-out uses.
type SQS interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ SQS = (*sqs.Client)(nil)

// Job is one message on the fan-out queue: deliver Frame to the members of
// one bucket of a channel, or, on a retry, to the members IDs.
type Job struct {
	// Channel is the channel as the store names it (qualified by tenant).
	Channel string `json:"channel"`
	// Tenant is the publisher's tenant, for the deliveries.
	Tenant string `json:"tenant,omitempty"`
	// Skip is the publisher, who does not receive its own message.
	Skip string `json:"skip,omitempty"`
	// Bucket is the bucket whose members receive the frame, when IDs is
	// empty, of Buckets, the channel's bucket count at the publish.
	Bucket  int `json:"bucket"`
	Buckets int `json:"buckets,omitempty"`
	// IDs, when not empty, are the members still to receive the frame,
	// those a previous attempt could not reach.
	IDs []string `json:"ids,omitempty"`
	// Attempt counts the attempts made before this one (0: first).
	Attempt int `json:"attempt,omitempty"`
	// Frame is the text frame to deliver.
	Frame []byte `json:"frame"`
	// Endpoint is the management API of the publishing event, for a worker
	// whose Sender has none configured. Empty: the Sender's.
	Endpoint string `json:"endpoint,omitempty"`
}

// SQS limits of one SendMessageBatch call.
const (
	maxBatchEntries = 10
	maxBatchBytes   = 256 << 10
	// maxRetryIDs bounds the members of one retry job, keeping it far below
	// SQS's 256 KiB with a frame of API Gateway's 128 KiB.
	maxRetryIDs = 1000
)

// enqueue sends jobs to queueURL with SendMessageBatch, as few calls as the
// limits of 10 messages and 256 KiB a call allow, each delayed by delay
// seconds (at most 900). It returns how many calls it made.
func enqueue(ctx context.Context, client SQS, queueURL string, jobs []Job, delay int32) (int, error) {
	calls := 0
	var entries []types.SendMessageBatchRequestEntry
	size := 0
	flush := func() error {
		if len(entries) == 0 {
			return nil
		}
		calls++
		out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return fmt.Errorf("awslambda: enqueue %d jobs: %w", len(entries), err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return fmt.Errorf("awslambda: enqueue: %d of %d jobs refused, first %s: %s", len(out.Failed), len(entries), aws.ToString(f.Code), aws.ToString(f.Message))
		}
		entries, size = entries[:0], 0
		return nil
	}
	for i, job := range jobs {
		body, err := json.Marshal(job)
		if err != nil {
			return calls, fmt.Errorf("awslambda: encode job: %w", err)
		}
		if len(entries) == maxBatchEntries || size+len(body) > maxBatchBytes {
			if err := flush(); err != nil {
				return calls, err
			}
		}
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:           aws.String(strconv.Itoa(i)),
			MessageBody:  aws.String(string(body)),
			DelaySeconds: min(delay, 900),
		})
		size += len(body)
	}
	return calls, flush()
}
