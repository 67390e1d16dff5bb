package lambdaemu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/lambdaemu/runtimeapi"
	"github.com/monologue-go/monologue/relay"
)

// LocalOptions describes the AWS path on one machine: the Lambda function
// (the awslambda handler in process, or a built bootstrap as child
// processes), DynamoDB at a local endpoint, and the gateway's management
// listener standing in for API Gateway's @connections API.
type LocalOptions struct {
	// ManagementEndpoint is the gateway's admin listener, e.g.
	// "http://127.0.0.1:8081". Required.
	ManagementEndpoint string
	// Stage is the API stage, used in the management API path. Zero: "local".
	Stage string
	// DynamoDBEndpoint is a DynamoDB-compatible server. Required.
	DynamoDBEndpoint string
	// Table is the subscriptions table, created when missing. Zero: "monologue".
	Table string
	// PublishKey is the key HTTP publish events carry and the function checks.
	PublishKey string
	// MaxMessageSize is the function's delivery limit. Zero: relay's default.
	MaxMessageSize int
	// Bootstrap is the path of a built bootstrap binary. Empty: the handler
	// runs in this process.
	Bootstrap string
	// Processes is how many bootstrap processes take events at once, like
	// concurrent Lambda instances. Zero: 4. Ignored in process.
	Processes int
	// Logger receives the function's logs in process, and the integration's.
	// Nil: slog.Default().
	Logger *slog.Logger
	// AccessKeyID and SecretAccessKey are the function's AWS credentials,
	// as a Lambda function gets its role's: it signs its management API
	// calls with them, so they must be the management listener's key when
	// that one requires signatures, and its DynamoDB calls too (the table is
	// created with them as well, since DynamoDB Local keeps one database per
	// access key unless started with -sharedDb). Empty: the dummy pair
	// "local"/"local", which DynamoDB Local and a management listener
	// without credentials accept.
	AccessKeyID     string
	SecretAccessKey string
	// SQSEndpoint, when not empty, is an SQS server (goaws): StartLocal
	// creates the fan-out queue and its dead-letter queue there, gives the
	// function the queue, and polls it as Lambda's event source mapping
	// would (see Poller). Empty: every publish is delivered inline.
	SQSEndpoint string
	// FanoutInlineMax is the most members a publish delivers inline; the
	// rest go to the queue. Zero: awslambda.DefaultFanoutInlineMax;
	// negative: every publish is queued.
	FanoutInlineMax int
	// CallbackBudget is the PostToConnection calls per second all workers
	// together may make. Zero: awslambda.DefaultCallbackBudget.
	CallbackBudget float64
	// WorkerConcurrency is how many batches of the queue are in the
	// function at once (the mapping's maximum concurrency). Zero: 2.
	WorkerConcurrency int
}

// Local is the AWS path running on this machine.
type Local struct {
	*Integration
	server   *runtimeapi.Server
	poller   *Poller
	children []*exec.Cmd
	exited   chan error

	closeOnce sync.Once
	closeErr  error
}

// dummyCredential is the access key ID and secret of LocalOptions left empty.
const dummyCredential = "local"

// StartLocal creates the table when missing, starts the function, and
// returns an Integration whose error replies go to replies (the gateway).
// Close stops what it started.
func StartLocal(ctx context.Context, replies relay.Sender, opts LocalOptions) (*Local, error) {
	if opts.ManagementEndpoint == "" || opts.DynamoDBEndpoint == "" {
		return nil, errors.New("lambdaemu: ManagementEndpoint and DynamoDBEndpoint are required")
	}
	if opts.Stage == "" {
		opts.Stage = "local"
	}
	if opts.Table == "" {
		opts.Table = "monologue"
	}
	if opts.Processes <= 0 {
		opts.Processes = 4
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if opts.AccessKeyID == "" && opts.SecretAccessKey == "" {
		opts.AccessKeyID, opts.SecretAccessKey = dummyCredential, dummyCredential
	}
	if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
		return nil, errors.New("lambdaemu: AccessKeyID and SecretAccessKey go together")
	}
	awsConfig := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(opts.AccessKeyID, opts.SecretAccessKey, ""),
	}
	db := dynamodb.NewFromConfig(awsConfig, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(opts.DynamoDBEndpoint)
		o.DisableValidateResponseChecksum = true
	})
	if err := awslambda.CreateTable(ctx, db, opts.Table); err != nil {
		return nil, fmt.Errorf("lambdaemu: table %q at %s: %w", opts.Table, opts.DynamoDBEndpoint, err)
	}
	management := strings.TrimSuffix(opts.ManagementEndpoint, "/") + "/" + opts.Stage
	if opts.WorkerConcurrency <= 0 {
		opts.WorkerConcurrency = 2
	}
	var queueURL, queueARN string
	var queue *sqs.Client
	if opts.SQSEndpoint != "" {
		queue = sqs.NewFromConfig(awsConfig, func(o *sqs.Options) { o.BaseEndpoint = aws.String(opts.SQSEndpoint) })
		var err error
		if queueURL, queueARN, err = createQueues(ctx, queue, opts.Table+"-fanout"); err != nil {
			return nil, fmt.Errorf("lambdaemu: fan-out queue at %s: %w", opts.SQSEndpoint, err)
		}
	}
	local := &Local{}
	var invoker Invoker
	if opts.Bootstrap == "" {
		dispatch, err := awslambda.New(awslambda.Config{
			AWS: awsConfig, Table: opts.Table, DynamoDBEndpoint: opts.DynamoDBEndpoint,
			PublishKey: opts.PublishKey, ManagementEndpoint: management,
			MaxMessageSize: opts.MaxMessageSize, Logger: log,
			QueueURL: queueURL, SQSEndpoint: opts.SQSEndpoint, FanoutInlineMax: opts.FanoutInlineMax,
			CallbackBudget: opts.CallbackBudget, WorkerConcurrency: opts.WorkerConcurrency,
		})
		if err != nil {
			return nil, fmt.Errorf("lambdaemu: %w", err)
		}
		invoker = lambda.NewHandler(dispatch)
	} else {
		if err := local.startBootstrap(ctx, opts, management, queueURL); err != nil {
			local.Close()
			return nil, err
		}
		invoker = local.server
	}
	integ, err := New(Options{
		WebSocket: invoker, Replies: replies, ManagementEndpoint: opts.ManagementEndpoint,
		Stage: opts.Stage, PublishKey: opts.PublishKey,
	})
	if err != nil {
		local.Close()
		return nil, err
	}
	local.Integration = integ
	if queue != nil {
		local.poller = StartPoller(PollerOptions{
			Queue: queue, QueueURL: queueURL, QueueARN: queueARN, Function: invoker,
			Concurrency: opts.WorkerConcurrency, Logger: log,
		})
	}
	return local, nil
}

// startBootstrap serves the Runtime API and starts opts.Processes copies
// of the bootstrap polling it, as Lambda would run the function.
func (l *Local) startBootstrap(ctx context.Context, opts LocalOptions, management, queueURL string) error {
	server, err := runtimeapi.New(runtimeapi.Options{})
	if err != nil {
		return fmt.Errorf("lambdaemu: runtime API: %w", err)
	}
	l.server = server
	l.exited = make(chan error, opts.Processes)
	env := append(os.Environ(),
		"AWS_LAMBDA_RUNTIME_API="+server.Addr(),
		"MONOLOGUE_TABLE="+opts.Table,
		"MONOLOGUE_PUBLISH_KEY="+opts.PublishKey,
		"MONOLOGUE_MANAGEMENT_ENDPOINT="+management,
		"AWS_ENDPOINT_URL_DYNAMODB="+opts.DynamoDBEndpoint,
		"AWS_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID="+opts.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+opts.SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_LAMBDA_FUNCTION_NAME=monologue",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
	)
	if opts.MaxMessageSize > 0 {
		env = append(env, "MONOLOGUE_MAX_MESSAGE_SIZE="+strconv.Itoa(opts.MaxMessageSize))
	}
	if queueURL != "" {
		inlineMax := opts.FanoutInlineMax
		if inlineMax < 0 {
			inlineMax = 0 // the bootstrap's 0: every publish is queued
		}
		env = append(env,
			"MONOLOGUE_QUEUE_URL="+queueURL,
			"AWS_ENDPOINT_URL_SQS="+opts.SQSEndpoint,
			"MONOLOGUE_WORKER_CONCURRENCY="+strconv.Itoa(opts.WorkerConcurrency),
		)
		if opts.FanoutInlineMax != 0 {
			env = append(env, "MONOLOGUE_FANOUT_INLINE_MAX="+strconv.Itoa(inlineMax))
		}
		if opts.CallbackBudget > 0 {
			env = append(env, "MONOLOGUE_CALLBACK_BUDGET="+strconv.Itoa(int(opts.CallbackBudget)))
		}
	}
	for range opts.Processes {
		cmd := exec.Command(opts.Bootstrap)
		cmd.Env = env
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("lambdaemu: start bootstrap %s: %w", opts.Bootstrap, err)
		}
		l.children = append(l.children, cmd)
		go func() { l.exited <- cmd.Wait() }()
	}
	select {
	case <-server.Ready():
		return nil
	case err := <-l.exited:
		return fmt.Errorf("lambdaemu: bootstrap exited before polling for events: %v", err)
	case <-time.After(10 * time.Second):
		return errors.New("lambdaemu: bootstrap did not poll for events within 10 s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the bootstrap processes and the Runtime API server. The
// gateway calls it at the end of its Shutdown; calling it again does
// nothing.
func (l *Local) Close() error {
	l.closeOnce.Do(func() {
		if l.poller != nil {
			l.poller.Close()
		}
		for _, cmd := range l.children {
			_ = cmd.Process.Kill()
		}
		for range l.children {
			<-l.exited
		}
		l.children = nil
		if l.server != nil {
			l.closeErr = l.server.Close()
		}
	})
	return l.closeErr
}

// createQueues creates the fan-out queue name with a dead-letter queue
// name+"-dlq" that takes a job after 5 receives (the deployment's
// maxReceiveCount), and returns the queue's URL and ARN.
func createQueues(ctx context.Context, client *sqs.Client, name string) (url, arn string, err error) {
	dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		return "", "", fmt.Errorf("create dead-letter queue: %w", err)
	}
	dlqArn, err := queueArn(ctx, client, aws.ToString(dlq.QueueUrl))
	if err != nil {
		return "", "", err
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: map[string]string{
		"VisibilityTimeout": "30",
		"RedrivePolicy":     fmt.Sprintf(`{"maxReceiveCount":"5","deadLetterTargetArn":"%s"}`, dlqArn),
	}})
	if err != nil {
		return "", "", fmt.Errorf("create queue: %w", err)
	}
	url = aws.ToString(out.QueueUrl)
	arn, err = queueArn(ctx, client, url)
	return url, arn, err
}

func queueArn(ctx context.Context, client *sqs.Client, url string) (string, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return "", fmt.Errorf("queue ARN of %s: %w", url, err)
	}
	return out.Attributes["QueueArn"], nil
}
