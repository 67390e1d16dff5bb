package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/internal/dynamolocal"
)

// TestServeLambdaIntegration is how a developer tries the AWS path on a
// laptop: serve --integration lambda with DynamoDB Local, and the Go client
// calling, messaging and publishing through the Lambda handler.
func TestServeLambdaIntegration(t *testing.T) {
	endpoint := dynamolocal.Start(t) // before Chdir: it installs into the repository
	t.Chdir(t.TempDir())
	lines, stop := startServe(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "warn",
		"--api-key", "lambda-key", "--integration", "lambda", "--dynamodb-endpoint", endpoint, "--dynamodb-table", "serve-test")
	if !strings.Contains(lines["integration"], "DynamoDB at "+endpoint) {
		t.Errorf("integration line %q", lines["integration"])
	}
	exerciseLambdaPath(t, lines["listening"], "lambda-key")
	if err := stop(); err != nil {
		t.Fatalf("runServe: %v", err)
	}
}

// TestServeLambdaIntegrationSigned runs the AWS path with credentials on the
// management listener, in process and through the built bootstrap as child
// processes: the function signs its posts with the same pair, as a Lambda
// function signs with its role's, and they pass while unsigned ones do not.
func TestServeLambdaIntegrationSigned(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	bootstrap := filepath.Join(t.TempDir(), "bootstrap")
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", bootstrap, "github.com/monologue-go/monologue/cmd/monologue-lambda")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the bootstrap: %v\n%s", err, out)
	}
	t.Chdir(t.TempDir())
	for _, integration := range []string{"lambda", "bootstrap=" + bootstrap} {
		t.Run(strings.Split(integration, "=")[0], func(t *testing.T) {
			lines, stop := startServe(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "warn",
				"--api-key", "lambda-key", "--integration", integration, "--dynamodb-endpoint", endpoint, "--dynamodb-table", "serve-signed",
				"--admin-access-key-id", testAdminKeyID, "--admin-secret-access-key", testAdminSecret)
			adminURL, _, _ := strings.Cut(lines["admin"], "/@connections/")
			if status, _ := plainRequest(t, "POST", adminURL+"/latest/@connections/"+url.PathEscape("AAAAAAAAAAAAAAA="), nil); status != http.StatusForbidden {
				t.Fatalf("unsigned post: %d, want 403: the management listener does not require signatures", status)
			}
			exerciseLambdaPath(t, lines["listening"], "lambda-key")
			if err := stop(); err != nil {
				t.Fatalf("runServe: %v", err)
			}
		})
	}
}

// exerciseLambdaPath calls, messages and publishes with the Go client
// through a gateway whose events go to the Lambda function.
func exerciseLambdaPath(t *testing.T, endpoint, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts := &monologue.Options{Endpoint: endpoint, APIKey: key}
	callee, err := monologue.Dial(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer callee.Close()
	received := make(chan monologue.Message, 1)
	caller, err := monologue.Dial(ctx, &monologue.Options{Endpoint: opts.Endpoint, APIKey: opts.APIKey, OnMessage: func(m monologue.Message) { received <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	if err := callee.Handle("sample-method", func(_ context.Context, req *monologue.Request) (any, error) {
		var a, b string
		err := req.Bind(&a, &b)
		return a + "+" + b, err
	}); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := caller.Call(ctx, callee.ID(), "sample-method", []any{"from", "machine1"}, &got); err != nil || got != "from+machine1" {
		t.Fatalf("Call = %q, %v", got, err)
	}
	if err := caller.Subscribe(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	if err := callee.Publish(ctx, "news", json.RawMessage(`{"n": 1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-received:
		if m.Channel != "news" || m.From != callee.ID() || string(m.Payload) != `{"n": 1}` {
			t.Fatalf("channel message %+v", m)
		}
	case <-ctx.Done():
		t.Fatal("no channel message through the Lambda path")
	}
	caller.Close()
	callee.Close()
}
