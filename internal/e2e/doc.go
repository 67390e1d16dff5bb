// Package e2e is the end-to-end protocol suite: one set of tests, over real
// sockets on 127.0.0.1, that every way of running the relay must pass
// unchanged. wire/PROTOCOL.md is its specification.
//
// The entry point is [Run]. It takes a start function that starts a fresh
// server for a [Config] and returns its addresses as a [Server]: one
// [Node] or several, each with its own listeners:
//
//	func TestMyMode(t *testing.T) {
//		e2e.Run(t, func(t *testing.T, cfg e2e.Config) e2e.Server {
//			// Start a server with cfg on 127.0.0.1:0 (public and admin
//			// listeners), register its shutdown with t.Cleanup, and return
//			// once it accepts connections.
//			return e2e.OneNode(e2e.Node{URL: "ws://127.0.0.1:P/",
//				PublicURL: "http://127.0.0.1:P", AdminURL: "http://127.0.0.1:Q"}, key)
//		})
//	}
//
// # Adding a mode
//
// A mode is one way of running the relay behind the gateway: the in-process
// relay (gateway_test.go, the reference), the gateway with the Lambda
// integration over DynamoDB, the real Lambda bootstrap as a child process,
// and so on. To add one, write a Test function in the package that owns the
// mode (or in this package, when it needs nothing private) that calls Run
// with its own start function. gateway/gatewaytest starts a gateway on
// loopback listeners and stops it in order (gateway_test.go's serveGateway
// uses it). The start function:
//
//   - applies every field of cfg; a zero field means the server's default;
//   - uses exactly one API key, returned in Server.APIKey;
//   - listens on 127.0.0.1 with random ports; each node's URL ends in "/",
//     its PublicURL and AdminURL do not;
//   - returns every node of a cluster in Server.Nodes, in any order; each
//     must accept any connection and any HTTP call;
//   - is safe to call concurrently: Run starts its few configurations in
//     parallel (three today), and runs the subtests sharing a server in
//     parallel;
//   - registers the server's shutdown with t.Cleanup, so that no goroutine
//     outlives the test (callers should check with go.uber.org/goleak, as
//     TestMain here does).
//
// Nothing in the suite depends on the mode: it speaks WebSocket through
// gorilla/websocket and HTTP through net/http, and knows nothing of the
// server's code. A mode that cannot pass a subtest has a bug, or
// wire/PROTOCOL.md must change; the suite has no switches to skip parts of
// it.
//
// # Nodes
//
// A subtest's connections are spread over the nodes round robin: its 1st
// connection goes to Nodes[0], its 2nd to Nodes[1], and so on, counted per
// subtest so that placement is deterministic although subtests run in
// parallel (placement.go). An HTTP call about a connection (@connections,
// POST /channels to a subscriber) goes to a node other than the one holding
// it; other calls take the nodes in turn. So with several nodes, a
// subtest's consecutive connections (pair's a and b, say) are on different
// nodes, and so are a connection and the calls about it.
// TestGatewayTwoListeners
// checks the mechanism without a cluster: one gateway, its handlers each on
// two listeners, passed as two nodes. With one node, everything is on it.
//
// # Layout
//
//   - suite.go: [Run], [Server], [Node], [Config], the configurations and
//     the list of subtests;
//   - placement.go: which node a subtest's next connection or HTTP call
//     goes to;
//   - client.go: the test-side client (dial, send, expect a frame byte for
//     byte, expect an error frame by code/id/to, whoami, expect nothing
//     pending, expect a close, poll until);
//   - messaging.go, channels.go, errors.go, limits.go, handshake.go,
//     management.go: the subtests, by area of wire/PROTOCOL.md;
//   - golden.go and testdata/*.golden: request → response frames checked in
//     one table (the file format is described in golden.go). Add a case there
//     when a single connection's request and answer say it all.
//
// Subtests sharing a server must not interfere: each uses its own
// connections, and channel names made unique by the subtest's name. To check
// that a frame did not arrive, the suite sends whoami and expects the ID as
// the next frame (the server answers one connection's frames in order)
// rather than waiting.
package e2e
