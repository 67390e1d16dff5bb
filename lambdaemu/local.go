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
}

// Local is the AWS path running on this machine.
type Local struct {
	*Integration
	server   *runtimeapi.Server
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
	local := &Local{}
	var invoker Invoker
	if opts.Bootstrap == "" {
		dispatch, err := awslambda.New(awslambda.Config{
			AWS: awsConfig, Table: opts.Table, DynamoDBEndpoint: opts.DynamoDBEndpoint,
			PublishKey: opts.PublishKey, ManagementEndpoint: management,
			MaxMessageSize: opts.MaxMessageSize, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("lambdaemu: %w", err)
		}
		invoker = lambda.NewHandler(dispatch)
	} else {
		if err := local.startBootstrap(ctx, opts, management); err != nil {
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
	return local, nil
}

// startBootstrap serves the Runtime API and starts opts.Processes copies
// of the bootstrap polling it, as Lambda would run the function.
func (l *Local) startBootstrap(ctx context.Context, opts LocalOptions, management string) error {
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
