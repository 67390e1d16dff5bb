package e2e

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/internal/dynamolocal"
	"github.com/monologue-go/monologue/internal/sqslocal"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(holderEnv); spec != "" {
		os.Exit(runHolder(spec))
	}
	code := m.Run()
	dynamolocal.Stop()
	sqslocal.Stop()
	if code == 0 {
		// The clients of the servers just stopped (DynamoDB Local, the SQS
		// server) see their connections close a moment later: a goroutine
		// that is still there after 10 s is a leak.
		err := goleak.Find()
		for deadline := time.Now().Add(10 * time.Second); err != nil && time.Now().Before(deadline); err = goleak.Find() {
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	removeBootstrap()
	os.Exit(code)
}

// testAPIKey is the API key of the servers started here.
const testAPIKey = "e2e-test-key-0123456789"

// errorLogger keeps the servers' logs to errors, on stderr.
var errorLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// serveGateway starts a gateway with cfg's limits, its public and admin
// handlers on loopback, and shuts it down when the test ends. integrate,
// when not nil, returns the gateway's NewIntegration given the admin
// listener's URL; it may register cleanups of its own, which run after the
// gateway's shutdown.
func serveGateway(t *testing.T, cfg Config, integrate func(adminURL string) func(*gateway.Gateway) (gateway.Integration, error)) *gatewaytest.Server {
	t.Helper()
	srv := gatewaytest.NewUnstarted(t)
	opts := gatewayOptions(cfg)
	if integrate != nil {
		opts.NewIntegration = integrate(srv.AdminURL)
	}
	srv.Start(opts)
	return srv
}

// gatewayOptions are the options of a gateway with cfg's limits and the
// test's API key.
func gatewayOptions(cfg Config) gateway.Options {
	return gateway.Options{
		APIKeys:          []string{testAPIKey},
		MaxMessageSize:   cfg.MaxMessageSize,
		IdleTimeout:      cfg.IdleTimeout,
		MaxConnectionAge: cfg.MaxConnectionAge,
		MessageRate:      cfg.MessageRate,
		Logger:           errorLogger,
	}
}

// node is the Node of a gateway served by gatewaytest.
func node(srv *gatewaytest.Server) Node {
	return Node{URL: srv.URL, PublicURL: srv.PublicURL, AdminURL: srv.AdminURL}
}

// startGateway starts the gateway with its in-process relay (mode 1).
func startGateway(t *testing.T, cfg Config) Server {
	return OneNode(node(serveGateway(t, cfg, nil)), testAPIKey)
}

// TestGateway runs the suite against the gateway with its in-process relay.
func TestGateway(t *testing.T) {
	Run(t, startGateway)
}

// TestGatewayReaderGoroutines runs the suite against the gateway with its
// in-process relay and no event loops: every connection has a reader
// goroutine, as TLS connections and other integrations do.
func TestGatewayReaderGoroutines(t *testing.T) {
	Run(t, func(t *testing.T, cfg Config) Server {
		srv := gatewaytest.NewUnstarted(t)
		opts := gatewayOptions(cfg)
		opts.EventLoops = -1
		srv.Start(opts)
		return OneNode(node(srv), testAPIKey)
	})
}

// startTwoListeners starts one gateway with its in-process relay and serves
// its public handler on a second listener and its admin handler on a second
// listener too, and returns the two pairs as two nodes. Every exchange the
// suite spreads over nodes then goes through two listeners: a cluster's
// placement without a cluster.
func startTwoListeners(t *testing.T, cfg Config) Server {
	srv := serveGateway(t, cfg, nil)
	public := serveHTTP(t, srv.Gateway, srv.Gateway.Handler())
	t.Cleanup(public.Close) // before the gateway shuts down: no handshake in flight
	admin := serveHTTP(t, srv.Gateway, srv.Gateway.AdminHandler())
	t.Cleanup(admin.Close)
	second := Node{URL: "ws" + strings.TrimPrefix(public.URL, "http") + "/", PublicURL: public.URL, AdminURL: admin.URL}
	return Server{Nodes: []Node{node(srv), second}, APIKey: testAPIKey}
}

// TestGatewayTwoListeners runs the suite against one gateway seen as two
// nodes (see startTwoListeners).
func TestGatewayTwoListeners(t *testing.T) {
	Run(t, startTwoListeners)
}

// serveHTTP serves one of gw's handlers on a loopback listener with the
// gateway's own server limits, as monologue serve does.
func serveHTTP(t *testing.T, gw *gateway.Gateway, handler http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = gw.HTTPServer(handler)
	srv.Start()
	return srv
}
