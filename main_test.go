package monologue_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "test-key"

// quiet discards logs; set MONOLOGUE_TEST_LOG=1 to see them.
func quiet() *slog.Logger {
	if os.Getenv("MONOLOGUE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testGateway is a real gateway on 127.0.0.1, port 0.
type testGateway struct {
	*gateway.Gateway
	endpoint string
	admin    string // URL of the management API
	stop     func() // stops listening and shuts the gateway down
}

// deleteConnection closes a connection from the server side, with the
// management API's DELETE /@connections/{id} (status 1000).
func (g *testGateway) deleteConnection(tb testing.TB, id string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodDelete, g.admin+"/@connections/"+url.PathEscape(id), nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		tb.Fatalf("DELETE /@connections/%s: %s", id, resp.Status)
	}
}

func startGateway(tb testing.TB, opts gateway.Options) *testGateway {
	tb.Helper()
	if opts.APIKeys == nil {
		opts.APIKeys = []string{testKey}
	}
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	srv := gatewaytest.Start(tb, opts)
	return &testGateway{Gateway: srv.Gateway, endpoint: srv.URL, admin: srv.AdminURL, stop: srv.Close}
}

// options returns client options for the gateway, with opts' fields.
func (g *testGateway) options(opts monologue.Options) *monologue.Options {
	if opts.Endpoint == "" {
		opts.Endpoint = g.endpoint
	}
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	return &opts
}

// dial connects a client that is closed when the test ends.
func (g *testGateway) dial(tb testing.TB, opts monologue.Options) *monologue.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := monologue.Dial(ctx, g.options(opts))
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// receive waits for a value on ch.
func receive[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		tb.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}
