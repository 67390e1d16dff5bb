package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

// management returns the real AWS SDK client pointed at the admin listener.
func management(endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   httpClient,
		Retryer:      aws.NopRetryer{},
	})
}

func TestManagementAPI(t *testing.T) {
	s := start(t, gateway.Options{MaxMessageSize: 1024})
	ctx := context.Background()
	for _, endpoint := range []string{s.admin, s.admin + "/latest"} {
		t.Run(strings.TrimPrefix(endpoint, s.admin), func(t *testing.T) {
			api := management(endpoint)
			header := http.Header{"X-Api-Key": {testKey}, "User-Agent": {"monologue-test/1"}}
			c := s.dialURL(t, s.url, header)
			id := c.whoami()

			if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: []byte(`{"hello":"world"}`),
			}); err != nil {
				t.Fatalf("PostToConnection: %v", err)
			}
			if got := c.read(); got != `{"hello":"world"}` {
				t.Fatalf("posted frame: %q", got)
			}

			out, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			if ip := aws.ToString(out.Identity.SourceIp); ip != "127.0.0.1" {
				t.Errorf("sourceIp %q", ip)
			}
			if ua := aws.ToString(out.Identity.UserAgent); ua != "monologue-test/1" {
				t.Errorf("userAgent %q", ua)
			}
			if out.ConnectedAt == nil || time.Since(*out.ConnectedAt) > time.Minute || out.LastActiveAt.Before(*out.ConnectedAt) {
				t.Errorf("connectedAt %v lastActiveAt %v", out.ConnectedAt, out.LastActiveAt)
			}

			_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: make([]byte, 1025),
			})
			if _, ok := errors.AsType[*types.PayloadTooLargeException](err); !ok {
				t.Errorf("post of 1025 bytes: %v, want PayloadTooLargeException", err)
			}

			if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}
			if status := c.closeStatus(5 * time.Second); status != websocket.CloseNormalClosure {
				t.Errorf("after DeleteConnection: close %d, want 1000", status)
			}
			eventually(t, 5*time.Second, "the connection to go", func() bool {
				_, ok := s.gw.Connection(id)
				return !ok
			})

			for name, call := range map[string]func() error{
				"post": func() error {
					_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("x")})
					return err
				},
				"get": func() error {
					_, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
					return err
				},
				"delete": func() error {
					_, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
					return err
				},
				"never issued": func() error {
					_, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String("AAAAAAAAAAAAAAA="), Data: []byte("x")})
					return err
				},
			} {
				if _, ok := errors.AsType[*types.GoneException](call()); !ok {
					t.Errorf("%s on a closed connection: want GoneException", name)
				}
			}
		})
	}
}

// TestManagementEscapedIDs posts to IDs holding "/" and "+", which the SDK
// sends path-escaped.
func TestManagementEscapedIDs(t *testing.T) {
	s := start(t, gateway.Options{})
	api := management(s.admin + "/latest")
	found := map[string]bool{}
	for i := 0; i < 100 && !(found["/"] && found["+"]); i++ {
		c := s.dial(t)
		id := c.whoami()
		for _, special := range []string{"/", "+"} {
			if found[special] || !strings.Contains(id, special) {
				continue
			}
			found[special] = true
			if _, err := api.PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: []byte("ping " + id),
			}); err != nil {
				t.Fatalf("post to %q: %v", id, err)
			}
			if got := c.read(); got != "ping "+id {
				t.Fatalf("post to %q delivered %q", id, got)
			}
		}
		c.close()
	}
	if !found["/"] || !found["+"] {
		t.Fatalf("no ID with / and + in 100 connections: %v", found)
	}
}

func TestManagementQueueFull(t *testing.T) {
	s := start(t, gateway.Options{SendQueueFrames: 1, WriteTimeout: 5 * time.Second})
	c := s.dial(t)
	id := c.whoami()
	// Post until the queue is full: the client does not read, so the
	// socket's buffers fill first and then the one-frame queue.
	body := strings.Repeat("x", 100<<10)
	var status int
	var header http.Header
	for i := 0; i < 2000 && status != http.StatusTooManyRequests; i++ {
		status, header, _ = httpDo(t, "POST", s.admin+"/@connections/"+url.PathEscape(id), nil, body)
	}
	if status != http.StatusTooManyRequests || header.Get("x-amzn-ErrorType") != "LimitExceededException" {
		t.Fatalf("posting to a stuck client: last status %d %q, want 429 LimitExceededException", status, header.Get("x-amzn-ErrorType"))
	}
}
