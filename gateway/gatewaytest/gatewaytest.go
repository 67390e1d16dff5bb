// Package gatewaytest starts a gateway for a test, as net/http/httptest does
// for an http.Handler: the public handler and the admin handler each on a
// loopback listener of their own (random ports), stopped in order when the
// test ends.
//
// Entry points: [Start] builds and serves a gateway in one call. When the
// gateway's integration needs to know where the gateway listens before the
// gateway exists (a Lambda emulation posting back to the management API,
// say), [NewUnstarted] listens first, so that [Server.AdminURL] is known
// while building [gateway.Options], and [Server.Start] then builds the
// gateway and serves it.
//
//	srv := gatewaytest.Start(t, gateway.Options{APIKeys: []string{key}})
//	ws, _, err := websocket.DefaultDialer.Dial(srv.URL, http.Header{"X-Api-Key": {key}})
package gatewaytest

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// shutdownTimeout bounds the gateway's shutdown in [Server.Close].
const shutdownTimeout = 10 * time.Second

// Server is a gateway serving on two loopback listeners: the public one
// (WebSocket, POST /channels/{channel}, /healthz) and the admin one
// (@connections API, /metrics, /healthz).
type Server struct {
	// URL is the WebSocket endpoint, "ws://127.0.0.1:P/", with a trailing
	// slash.
	URL string
	// PublicURL is the public listener over HTTP, "http://127.0.0.1:P",
	// without a trailing slash.
	PublicURL string
	// AdminURL is the admin listener, "http://127.0.0.1:Q", without a
	// trailing slash.
	AdminURL string
	// Gateway is the gateway being served; nil until [Server.Start].
	Gateway *gateway.Gateway

	tb        testing.TB
	public    *httptest.Server
	admin     *httptest.Server
	closeOnce sync.Once
}

// Start builds a gateway with opts, serves it on two loopback listeners, and
// stops it when the test ends (see [Server.Close]). It fails the test when
// gateway.New fails.
func Start(tb testing.TB, opts gateway.Options) *Server {
	tb.Helper()
	s := NewUnstarted(tb)
	s.Start(opts)
	return s
}

// NewUnstarted listens on two loopback ports and returns a Server whose URL,
// PublicURL and AdminURL are set but which serves nothing until
// [Server.Start]. Connections made before Start wait in the listeners'
// backlog. The listeners are closed when the test ends, whether or not
// Start was called.
func NewUnstarted(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{
		tb:     tb,
		public: httptest.NewUnstartedServer(nil),
		admin:  httptest.NewUnstartedServer(nil),
	}
	s.PublicURL = "http://" + s.public.Listener.Addr().String()
	s.URL = "ws" + strings.TrimPrefix(s.PublicURL, "http") + "/"
	s.AdminURL = "http://" + s.admin.Listener.Addr().String()
	tb.Cleanup(s.Close) // does nothing when Start's cleanup already closed s
	return s
}

// Start builds the gateway with opts and serves it: Handler on the public
// listener, AdminHandler on the admin one, each by an http.Server from
// [gateway.Gateway.HTTPServer], with the time limits that monologue serve
// has. It fails the test when gateway.New fails, or when s was already
// started.
//
// Start registers s.Close with the test's Cleanup after gateway.New returns,
// so that cleanups registered while the gateway was built (by
// opts.NewIntegration, for the integration it built) run after the gateway
// has stopped.
func (s *Server) Start(opts gateway.Options) {
	s.tb.Helper()
	if s.Gateway != nil {
		s.tb.Fatal("gatewaytest: Start called twice")
	}
	gw, err := gateway.New(opts)
	if err != nil {
		s.tb.Fatalf("gateway.New: %v", err)
	}
	s.Gateway = gw
	// The servers serve was given: the same limits, as production has them.
	s.public.Config = gw.HTTPServer(gw.Handler())
	s.admin.Config = gw.HTTPServer(gw.AdminHandler())
	s.public.Listener = gw.Listener(s.public.Listener) // as monologue serve does
	s.public.Start()
	s.admin.Start()
	s.tb.Cleanup(s.Close)
}

// Close stops the server, in this order: the public listener (no handshake
// or POST /channels is in flight after it returns, as gateway.Shutdown asks),
// then gateway.Shutdown, bounded by 10 s, which closes every connection with
// status 1001 (an error fails the test with Errorf), then the admin listener,
// which stays up meanwhile for an integration that posts to the management
// API while connections close. Close is idempotent; it runs when the test
// ends, and a test may call it earlier. Before Start it closes the
// listeners.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.public.Close()
		if s.Gateway != nil {
			ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := s.Gateway.Shutdown(ctx); err != nil {
				s.tb.Errorf("gateway shutdown: %v", err)
			}
		}
		s.admin.Close()
	})
}
