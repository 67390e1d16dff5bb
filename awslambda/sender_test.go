package awslambda_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

func TestSenderMapsErrors(t *testing.T) {
	mgmt := newManagementAPI(t, connA)
	sender := awslambda.NewSender(localAWS(), awslambda.SenderOptions{Endpoint: mgmt.Endpoint()})
	ctx := context.Background()
	if err := sender.Send(ctx, relay.Delivery{To: connA, Frame: []byte("hello")}); err != nil {
		t.Fatalf("Send to a live connection: %v", err)
	}
	if got := mgmt.Take(connA); len(got) != 1 || got[0] != "hello" {
		t.Fatalf("posted %q, want [hello]", got)
	}
	tests := []struct {
		status int
		want   error
		sdk    any
	}{
		{http.StatusGone, wire.ErrGone, new(*types.GoneException)},
		{http.StatusRequestEntityTooLarge, wire.ErrPayloadTooLarge, new(*types.PayloadTooLargeException)},
		{http.StatusTooManyRequests, wire.ErrRateLimited, new(*types.LimitExceededException)},
		{http.StatusForbidden, wire.ErrForbidden, new(*types.ForbiddenException)},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			id := "fail-" + http.StatusText(tt.status)
			mgmt.Fail(id, tt.status)
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err := sender.Send(ctx, relay.Delivery{To: id, Frame: []byte("x")})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want one matching %v", err, tt.want)
			}
			if !errors.As(err, tt.sdk) {
				t.Fatalf("err = %v, want the SDK's %T wrapped too", err, tt.sdk)
			}
			if n := mgmt.Attempts(id); n != 1 {
				t.Fatalf("%d posts, want 1: client errors are not retried", n)
			}
		})
	}
	// A connection that was never issued is gone, like one that closed.
	if err := sender.Send(ctx, relay.Delivery{To: "never-issued", Frame: []byte("x")}); !errors.Is(err, wire.ErrGone) {
		t.Fatalf("never-issued: err = %v, want gone", err)
	}
}

// rewriter sends every request to the fake, recording the URL the SDK built.
type rewriter struct {
	target string // host:port of the fake
	mu     sync.Mutex
	urls   []string
}

func (r *rewriter) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.urls = append(r.urls, req.URL.String())
	r.mu.Unlock()
	req.URL.Scheme, req.URL.Host = "http", r.target
	return http.DefaultClient.Do(req)
}

// TestEndpointFromEvent checks that without a fixed endpoint, frames go to
// https://{domainName}/{stage} of the event being handled.
func TestEndpointFromEvent(t *testing.T) {
	mgmt := newManagementAPI(t, connA)
	client, table, _ := newTable(t)
	cfg := localAWS()
	rw := &rewriter{target: strings.TrimPrefix(mgmt.server.URL, "http://")}
	cfg.HTTPClient = rw
	d, err := awslambda.New(awslambda.Config{AWS: cfg, Table: table, DynamoDB: client})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Invoke(invocationContext(), readEvent(t, "ws-default-whoami.json")); err != nil {
		t.Fatal(err)
	}
	want := "https://x7k2p9q4r1.execute-api.us-east-1.amazonaws.com/latest/@connections/AtuLLemUPHcCItg%3D"
	if len(rw.urls) != 1 || rw.urls[0] != want {
		t.Fatalf("posted to %v, want [%s]", rw.urls, want)
	}
	if got := mgmt.Take(connA); len(got) != 1 || got[0] != connA {
		t.Fatalf("frames = %q, want the connection ID", got)
	}
}
