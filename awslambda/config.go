package awslambda

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/monologue-go/monologue/relay"
)

// DefaultFanoutConcurrency is how many PostToConnection calls a publish
// makes at once in Lambda.
const DefaultFanoutConcurrency = 16

// Config is everything the Lambda function needs; cmd/monologue-lambda
// fills it from the environment. Table is required.
type Config struct {
	// AWS gives region, credentials, retries and the HTTP client of both
	// the DynamoDB and the management API clients. A nil HTTPClient gets
	// one that keeps enough idle connections for FanoutConcurrency.
	AWS aws.Config
	// Table is the DynamoDB table of channel subscriptions (MONOLOGUE_TABLE).
	Table string
	// DynamoDBEndpoint, when not empty, is where the DynamoDB client sends
	// requests (DynamoDB Local), with response checksums not validated.
	// Empty: AWS's endpoint for the region, or AWS.BaseEndpoint.
	DynamoDBEndpoint string
	// DynamoDB, when not nil, replaces the DynamoDB client (tests).
	DynamoDB DynamoNamesDB
	// PublishKey is the x-api-key that HTTP publish requires
	// (MONOLOGUE_PUBLISH_KEY). Empty: HTTP publish is refused with 403.
	PublishKey string
	// ManagementEndpoint, when not empty, is the @connections API every
	// frame goes to (MONOLOGUE_MANAGEMENT_ENDPOINT); HTTP publish needs it.
	// Empty: the endpoint of each WebSocket event.
	ManagementEndpoint string
	// ManagementOptions are applied to every management API client.
	ManagementOptions []func(*apigatewaymanagementapi.Options)
	// Sender, when not nil, replaces the management API Sender (tests and
	// benchmarks of the handler alone).
	Sender relay.Sender
	// MaxMessageSize is the largest frame delivered
	// (MONOLOGUE_MAX_MESSAGE_SIZE). Zero: relay.DefaultMaxMessageSize.
	MaxMessageSize int
	// FanoutConcurrency bounds concurrent PostToConnection calls of one
	// publish. Zero: DefaultFanoutConcurrency.
	FanoutConcurrency int
	// SubscriptionTTL is how long a subscription item lives. Zero:
	// DefaultSubscriptionTTL.
	SubscriptionTTL time.Duration
	// MaxPerConnection bounds the channels one connection may join, at the
	// cost of one more Query per subscribe. Zero: no bound.
	MaxPerConnection int
	// MaxNamesPerConnection bounds the names one connection may hold
	// (MONOLOGUE_MAX_NAMES). Zero: DefaultMaxNamesPerConnection (64).
	MaxNamesPerConnection int
	// Logger receives the relay's and the handlers' errors. Nil: slog.Default().
	Logger *slog.Logger
	// QueueURL, when not empty, is the fan-out queue (MONOLOGUE_QUEUE_URL):
	// a publish to a channel past FanoutInlineMax members enqueues one job
	// per bucket there, and the function's Worker handles the queue's
	// events. Empty: every publish is delivered inline.
	QueueURL string
	// SQSEndpoint, when not empty, is where the SQS client sends requests
	// (a local SQS server). Empty: AWS's, or AWS.BaseEndpoint.
	SQSEndpoint string
	// SQS, when not nil, replaces the SQS client (tests).
	SQS SQS
	// FanoutInlineMax is the most members a publish delivers inline
	// (MONOLOGUE_FANOUT_INLINE_MAX). Zero: DefaultFanoutInlineMax;
	// negative: every publish is queued.
	FanoutInlineMax int
	// CallbackBudget is the PostToConnection calls per second all workers
	// together may make (MONOLOGUE_CALLBACK_BUDGET). Zero:
	// DefaultCallbackBudget.
	CallbackBudget float64
	// WorkerConcurrency is the event source mapping's maximum concurrency
	// (MONOLOGUE_WORKER_CONCURRENCY). Zero: DefaultWorkerConcurrency.
	WorkerConcurrency int
}

// New builds the function's handler from cfg. It makes no network call:
// the DynamoDB client is built on first use, since direct messages never
// need it.
func New(cfg Config) (*Dispatch, error) {
	if cfg.Table == "" {
		return nil, errors.New("awslambda: Config.Table is required")
	}
	if cfg.FanoutConcurrency <= 0 {
		cfg.FanoutConcurrency = DefaultFanoutConcurrency
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.AWS.HTTPClient == nil {
		idle := max(cfg.FanoutConcurrency, awshttp.DefaultHTTPTransportMaxIdleConnsPerHost)
		cfg.AWS.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
			t.MaxIdleConnsPerHost = idle
		})
	}
	db := cfg.DynamoDB
	if db == nil {
		db = &lazyDynamo{newClient: func() *dynamodb.Client {
			return dynamodb.NewFromConfig(cfg.AWS, func(o *dynamodb.Options) {
				if cfg.DynamoDBEndpoint != "" {
					o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
					o.DisableValidateResponseChecksum = true
				}
			})
		}}
	}
	store := NewDynamoChannels(db, DynamoOptions{
		Table:            cfg.Table,
		TTL:              cfg.SubscriptionTTL,
		MaxPerConnection: cfg.MaxPerConnection,
	})
	watchers := NewDynamoChannels(db, DynamoOptions{
		Table:            cfg.Table,
		TTL:              cfg.SubscriptionTTL,
		MaxPerConnection: cfg.MaxPerConnection,
		MemberPrefix:     WatcherPrefix,
	})
	names := NewDynamoNames(db, DynamoOptions{
		Table:            cfg.Table,
		TTL:              cfg.SubscriptionTTL,
		MaxPerConnection: cfg.MaxNamesPerConnection,
	})
	var sender relay.Sender = NewSender(cfg.AWS, SenderOptions{Endpoint: cfg.ManagementEndpoint, ClientOptions: cfg.ManagementOptions})
	if cfg.Sender != nil {
		sender = cfg.Sender
	}
	var channels relay.Channels = store
	var worker *Worker
	if cfg.QueueURL != "" {
		queue := cfg.SQS
		if queue == nil {
			queue = sqs.NewFromConfig(cfg.AWS, func(o *sqs.Options) {
				if cfg.SQSEndpoint != "" {
					o.BaseEndpoint = aws.String(cfg.SQSEndpoint)
				}
			})
		}
		channels = NewQueuedChannels(store, QueuedOptions{
			Queue: queue, QueueURL: cfg.QueueURL, Sender: sender,
			InlineMax: cfg.FanoutInlineMax, Concurrency: cfg.FanoutConcurrency, Logger: cfg.Logger,
		})
		// The worker's own management client does not retry: the worker
		// paces and retries itself, and a 429 storm must not drain the
		// SDK's shared retry quota.
		var workerSender relay.Sender = NewSender(cfg.AWS, SenderOptions{
			Endpoint:      cfg.ManagementEndpoint,
			ClientOptions: append(slices.Clone(cfg.ManagementOptions), func(o *apigatewaymanagementapi.Options) { o.Retryer = aws.NopRetryer{} }),
		})
		if cfg.Sender != nil {
			workerSender = cfg.Sender
		}
		worker = NewWorker(WorkerOptions{
			Store: store, Sender: workerSender, Queue: queue, QueueURL: cfg.QueueURL,
			CallbackBudget: cfg.CallbackBudget, Concurrency: cfg.WorkerConcurrency,
			SendConcurrency: cfg.FanoutConcurrency, Logger: cfg.Logger,
		})
	}
	r := relay.New(relay.Options{
		Sender:            sender,
		Channels:          channels,
		Watchers:          watchers,
		Names:             names,
		Logger:            cfg.Logger,
		MaxMessageSize:    cfg.MaxMessageSize,
		FanoutConcurrency: cfg.FanoutConcurrency,
	})
	return &Dispatch{
		WebSocket: NewHandler(r, cfg.Logger),
		HTTP:      NewHTTPHandler(r, cfg.PublishKey, cfg.Logger),
		Worker:    worker,
	}, nil
}
