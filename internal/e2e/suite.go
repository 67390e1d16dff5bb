package e2e

import (
	"net/http"
	"testing"
	"time"
)

// Server is a running server under test, as start returns it: one node, or
// several nodes serving the same relay (a cluster). The suite spreads each
// subtest's connections and HTTP calls over the nodes (see placement.go).
type Server struct {
	// Nodes are the server's nodes; there must be at least one. The order
	// matters only for placement: a subtest's first connection goes to
	// Nodes[0], its second to Nodes[1], and so on.
	Nodes []Node
	// APIKey is the one API key the server accepts, on every node.
	APIKey string
}

// Node is the listeners of one node of a [Server].
type Node struct {
	// URL is the WebSocket endpoint, "ws://127.0.0.1:P/".
	URL string
	// PublicURL is the public listener over HTTP (POST /channels/…, /healthz),
	// "http://127.0.0.1:P", without a trailing slash.
	PublicURL string
	// AdminURL is the management listener (@connections API, /metrics),
	// "http://127.0.0.1:Q", without a trailing slash.
	AdminURL string
}

// OneNode returns the Server of a single node with the given API key.
func OneNode(node Node, apiKey string) Server {
	return Server{Nodes: []Node{node}, APIKey: apiKey}
}

// Config is what the suite asks of a server. The zero value of each field
// means the server's default.
type Config struct {
	// MaxMessageSize is the largest client message and delivered frame, in bytes.
	MaxMessageSize int
	// IdleTimeout closes a connection with no frame either way for this long.
	IdleTimeout time.Duration
	// MaxConnectionAge closes every connection this long after it opened.
	MaxConnectionAge time.Duration
	// MessageRate is the per-connection limit on client messages per second.
	MessageRate float64
}

// The configurations the suite starts, each once. They are few, so that a
// mode whose servers are slow to start (DynamoDB, a child process) stays fast.
var (
	// protocolConfig serves most subtests. Its small size limit lets the
	// limit tests use small frames; every other frame fits easily.
	protocolConfig = Config{MaxMessageSize: 4096}
	// rateConfig has a message rate low enough to exceed on purpose.
	rateConfig = Config{MaxMessageSize: 4096, MessageRate: 20}
	// timeoutConfig has short idle and age limits.
	timeoutConfig = Config{IdleTimeout: 300 * time.Millisecond, MaxConnectionAge: 600 * time.Millisecond}
)

// env is what a subtest gets: the server, its config, an HTTP client that
// keeps no idle connections (so nothing lingers for the leak check), and
// the subtest's own placement of connections and calls on the nodes.
type env struct {
	Server
	cfg   Config
	http  *http.Client
	place *placement
}

// newEnv returns the env of a server, with a placement that starts at node 0.
func newEnv(srv Server, cfg Config) *env {
	return &env{
		Server: srv,
		cfg:    cfg,
		http:   &http.Client{Timeout: frameTimeout, Transport: &http.Transport{DisableKeepAlives: true}},
		place:  &placement{},
	}
}

// test is one named subtest on a shared server.
type test struct {
	name string
	fn   func(t *testing.T, e *env)
}

// Run runs the whole protocol suite against servers made by start.
//
// start must start a fresh server with cfg on 127.0.0.1 (random ports),
// register its shutdown with t.Cleanup, and return when it accepts
// connections. Run calls it a few times (once per configuration), possibly
// concurrently from parallel subtests; subtests sharing a server run in
// parallel, each on its own connections, spread over the server's nodes.
func Run(t *testing.T, start func(t *testing.T, cfg Config) Server) {
	groups := []struct {
		name  string
		cfg   Config
		tests []test
	}{
		{"protocol", protocolConfig, protocolTests()},
		{"rate", rateConfig, rateTests()},
		{"timeouts", timeoutConfig, timeoutTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			srv := start(t, g.cfg)
			if len(srv.Nodes) == 0 {
				t.Fatal("start returned a Server with no nodes")
			}
			shared := newEnv(srv, g.cfg)
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, shared.withPlacement(0))
				})
			}
		})
	}
}

// protocolTests are the subtests on protocolConfig.
func protocolTests() []test {
	var all []test
	all = append(all, messagingTests...)
	all = append(all, channelTests...)
	all = append(all, nameTests...)
	all = append(all, errorTests...)
	all = append(all, limitTests...)
	all = append(all, handshakeTests...)
	all = append(all, managementTests...)
	all = append(all, test{"golden", testGolden})
	return all
}

func rateTests() []test { return []test{{"rate_limited", testRateLimited}} }

func timeoutTests() []test {
	return []test{
		{"idle_timeout", testIdleTimeout},
		{"max_connection_age", testMaxConnectionAge},
	}
}
