package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/internal/dynamolocal"
	"github.com/monologue-go/monologue/internal/sqslocal"
	"github.com/monologue-go/monologue/lambdaemu"
)

// tables numbers the DynamoDB tables, one per server, so servers started
// by parallel subtests share nothing.
var tables atomic.Int64

// startLambda returns a start function for the AWS path: the gateway turns
// every event into API Gateway event JSON for the awslambda handler — in
// process when bootstrap is "", else the built bootstrap as child
// processes — whose Sender is the real management API client pointed at
// the gateway's admin listener and whose channels are in DynamoDB Local.
//
// With queued, publishes go through the fan-out queue on goaws (every
// publish, whatever the channel's size), and a poller feeds its jobs to the
// function as Lambda's event source mapping would.
func startLambda(bootstrap func(t *testing.T) string, queued bool) func(t *testing.T, cfg Config) Server {
	return func(t *testing.T, cfg Config) Server {
		t.Helper()
		endpoint := dynamolocal.Start(t)
		var sqsEndpoint string
		if queued {
			sqsEndpoint = sqslocal.Start(t)
		}
		var path string
		if bootstrap != nil {
			path = bootstrap(t)
		}
		srv := serveGateway(t, cfg, func(adminURL string) func(*gateway.Gateway) (gateway.Integration, error) {
			return func(gw *gateway.Gateway) (gateway.Integration, error) {
				local, err := lambdaemu.StartLocal(context.Background(), gw, lambdaemu.LocalOptions{
					ManagementEndpoint: adminURL,
					Stage:              "latest",
					DynamoDBEndpoint:   endpoint,
					Table:              fmt.Sprintf("e2e-%d", tables.Add(1)),
					PublishKey:         testAPIKey,
					MaxMessageSize:     cfg.MaxMessageSize,
					Bootstrap:          path,
					Logger:             errorLogger,
					SQSEndpoint:        sqsEndpoint,
					FanoutInlineMax:    -1,
				})
				if err != nil {
					return nil, err
				}
				return local, nil // the gateway's Shutdown closes it
			}
		})
		return OneNode(node(srv), testAPIKey)
	}
}

// TestLambda runs the suite with every event going through the awslambda
// handler in process, as API Gateway event JSON.
func TestLambda(t *testing.T) {
	Run(t, startLambda(nil, false))
}

// TestLambdaQueued runs the suite in process with every publish going
// through the SQS fan-out queue and the worker.
func TestLambdaQueued(t *testing.T) {
	Run(t, startLambda(nil, true))
}

// TestBootstrap runs the suite through the real bootstrap binary, the
// artifact that would be uploaded, speaking the Lambda Runtime API.
func TestBootstrap(t *testing.T) {
	Run(t, startLambda(buildBootstrap, false))
}

// TestBootstrapQueued runs the suite through the bootstrap binary with
// every publish going through the SQS fan-out queue.
func TestBootstrapQueued(t *testing.T) {
	Run(t, startLambda(buildBootstrap, true))
}

var (
	bootstrapOnce sync.Once
	bootstrapDir  string
	bootstrapPath string
	bootstrapErr  error
)

// buildBootstrap builds cmd/monologue-lambda for this machine, once per
// test binary, with the flags of the Lambda build (lambda.norpc, no cgo).
func buildBootstrap(t *testing.T) string {
	t.Helper()
	bootstrapOnce.Do(func() {
		bootstrapDir, bootstrapErr = os.MkdirTemp("", "monologue-bootstrap-")
		if bootstrapErr != nil {
			return
		}
		bootstrapPath = filepath.Join(bootstrapDir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", bootstrapPath, "github.com/monologue-go/monologue/cmd/monologue-lambda")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			bootstrapErr = fmt.Errorf("build bootstrap: %v\n%s", err, out)
		}
	})
	if bootstrapErr != nil {
		t.Fatal(bootstrapErr)
	}
	return bootstrapPath
}

func removeBootstrap() {
	if bootstrapDir != "" {
		os.RemoveAll(bootstrapDir)
	}
}
