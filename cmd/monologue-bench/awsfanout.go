package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/fakemgmt"
	"github.com/monologue-go/monologue/lambdaemu"
	"github.com/monologue-go/monologue/relay"
)

// awsFanoutCommand is the subcommand that measures a publish to many
// members through the emulated AWS path.
const awsFanoutCommand = "awsfanout"

// awsFanoutConfig is the command line of awsfanout.
type awsFanoutConfig struct {
	dynamoEndpoint, sqsEndpoint string
	members, repeat, workers    int
	batchSize                   int
	rates                       []float64
	budgetFactor                float64
}

// runAWSFanout publishes to --members members, inline and queued, at each
// --rates throttle of a fake management API, and prints a markdown table:
// deliveries/s against the budget, time to the last member, and DynamoDB
// and SQS calls per delivery.
func runAWSFanout(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("monologue-bench "+awsFanoutCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg awsFanoutConfig
	var rates string
	fs.StringVar(&cfg.dynamoEndpoint, "dynamodb-endpoint", "", "DynamoDB Local (required)")
	fs.StringVar(&cfg.sqsEndpoint, "sqs-endpoint", "", "goaws v0.5.x (required)")
	fs.IntVar(&cfg.members, "members", 10000, "members of the channel")
	fs.IntVar(&cfg.repeat, "repeat", 5, "publishes per mode and rate")
	fs.IntVar(&cfg.batchSize, "batch-size", 1, "jobs per worker invocation (the event source mapping's batch size)")
	fs.IntVar(&cfg.workers, "workers", 4, "worker concurrency (the event source mapping's maximum concurrency)")
	fs.StringVar(&rates, "rates", "1000,2000,4000", "management API throttles to measure at, requests/s")
	fs.Float64Var(&cfg.budgetFactor, "budget-factor", 1, "the workers' callback budget as a share of each throttle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.dynamoEndpoint == "" || cfg.sqsEndpoint == "" {
		return errors.New("--dynamodb-endpoint and --sqs-endpoint are required (DynamoDB Local; goaws, built with go install github.com/Admiral-Piett/goaws/app/cmd@v0.5.4)")
	}
	for _, r := range strings.Split(rates, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
		if err != nil || v <= 0 {
			return fmt.Errorf("--rates: %q is not a positive number", r)
		}
		cfg.rates = append(cfg.rates, v)
	}
	fmt.Fprintf(stdout, "| mode | throttle (req/s) | budget (req/s) | delivered | deliveries/s | of budget | time to last member p50 / p99 | 429s | DynamoDB calls/delivery | SQS calls/delivery |\n")
	fmt.Fprintf(stdout, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, rate := range cfg.rates {
		for _, queued := range []bool{false, true} {
			row, err := awsFanoutRun(ctx, cfg, rate, queued)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, row)
		}
	}
	return nil
}

// countingTransport counts the requests it carries.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) Do(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultClient.Do(r)
}

var runSequence atomic.Int64

// awsFanoutRun measures one mode at one throttle.
func awsFanoutRun(ctx context.Context, cfg awsFanoutConfig, rate float64, queued bool) (string, error) {
	creds := credentials.NewStaticCredentialsProvider("local", "local", "")
	dynamoCalls, sqsCalls := &countingTransport{}, &countingTransport{}
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(cfg.dynamoEndpoint), Credentials: creds, DisableValidateResponseChecksum: true, HTTPClient: dynamoCalls})
	queue := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(cfg.sqsEndpoint), Credentials: creds, HTTPClient: sqsCalls})
	name := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), runSequence.Add(1))
	if err := awslambda.CreateTable(ctx, db, name); err != nil {
		return "", err
	}
	qout, err := queue.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		return "", fmt.Errorf("create queue: %w", err)
	}
	queueURL := aws.ToString(qout.QueueUrl)

	mgmt := fakemgmt.New(rate)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	server := &http.Server{Handler: mgmt.Handler()}
	go server.Serve(ln)
	defer server.Close()
	// As awslambda.New does: enough idle connections for the sends in flight.
	awsCfg := aws.Config{Region: "us-east-1", Credentials: creds, HTTPClient: awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConnsPerHost = awslambda.DefaultFanoutConcurrency * cfg.workers
	})}
	endpoint := "http://" + ln.Addr().String() + "/latest"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	store := awslambda.NewDynamoChannels(db, awslambda.DynamoOptions{Table: name})
	ids := make([]string, cfg.members)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%06d=", i)
	}
	buckets := 1 // inline: one bucket, delivered by the publish
	if queued {
		for buckets*awslambda.DefaultBucketTarget < cfg.members {
			buckets *= 2
		}
	}
	if err := store.SubscribeAll(ctx, "bench", ids, buckets); err != nil {
		return "", err
	}
	budget := rate * cfg.budgetFactor
	inlineSender := awslambda.NewSender(awsCfg, awslambda.SenderOptions{Endpoint: endpoint})
	workerSender := awslambda.NewSender(awsCfg, awslambda.SenderOptions{Endpoint: endpoint, ClientOptions: []func(*apigatewaymanagementapi.Options){func(o *apigatewaymanagementapi.Options) { o.Retryer = aws.NopRetryer{} }}})
	publisher := awslambda.NewQueuedChannels(store, awslambda.QueuedOptions{Queue: queue, QueueURL: queueURL, Sender: inlineSender, InlineMax: cfg.members + 1, Logger: quiet})
	worker := awslambda.NewWorker(awslambda.WorkerOptions{
		Store: store, Sender: workerSender, Queue: queue, QueueURL: queueURL,
		CallbackBudget: budget, Concurrency: cfg.workers, MaxAttempts: 5, Logger: quiet,
	})
	poller := lambdaemu.StartPoller(lambdaemu.PollerOptions{Queue: queue, QueueURL: queueURL, Function: &awslambda.Dispatch{Worker: worker}, Concurrency: cfg.workers, BatchSize: int32(cfg.batchSize), Logger: quiet})
	defer poller.Close()

	var toLast []time.Duration
	delivered, throttled := 0, 0
	var busy time.Duration
	dynamoCalls.n.Store(0)
	sqsCalls.n.Store(0)
	for i := range cfg.repeat {
		before, throttledBefore, _ := mgmt.Counts()
		start := time.Now()
		if err := publisher.Publish(ctx, relay.Publication{Channel: "bench", Frame: []byte(`{"n":` + strconv.Itoa(i) + `}`)}); err != nil {
			return "", err
		}
		// Wait until every member has it, or nothing moved for 3 s.
		lastCount, lastMove := -1, time.Now()
		for {
			d, _, _ := mgmt.Counts()
			n := d - before
			if n >= cfg.members {
				break
			}
			if n != lastCount {
				lastCount, lastMove = n, time.Now()
			} else if time.Since(lastMove) > 3*time.Second && drained(ctx, queue, queueURL) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		after, throttledAfter, last := mgmt.Counts()
		toLast = append(toLast, last.Sub(start))
		busy += last.Sub(start)
		delivered += after - before
		throttled += throttledAfter - throttledBefore
		time.Sleep(200 * time.Millisecond) // the bucket refills
	}
	slices.Sort(toLast)
	perSecond := float64(delivered) / busy.Seconds()
	mode := "inline"
	if queued {
		mode = fmt.Sprintf("queued (%d buckets, %d workers)", buckets, cfg.workers)
	}
	return fmt.Sprintf("| %s | %.0f | %.0f | %d/%d | %.0f | %.0f%% | %v / %v | %d | %.3f | %.4f |",
		mode, rate, budget, delivered, cfg.members*cfg.repeat, perSecond, 100*perSecond/budget,
		toLast[len(toLast)/2].Round(time.Millisecond), toLast[(len(toLast)*99)/100].Round(time.Millisecond), throttled,
		float64(dynamoCalls.n.Load())/float64(max(delivered, 1)), float64(sqsCalls.n.Load())/float64(max(delivered, 1))), nil
}

// drained reports whether the queue holds no job.
func drained(ctx context.Context, queue *sqs.Client, url string) bool {
	out, err := queue.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		return false
	}
	for _, v := range out.Attributes {
		if v != "0" {
			return false
		}
	}
	return true
}
