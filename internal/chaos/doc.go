// Package chaos holds the cluster's failure tests: what a cluster of
// gateway nodes guarantees when one of them is killed, leaves, loses NATS,
// or is restarted, checked over real sockets on 127.0.0.1.
//
// The package has no code of its own, only tests:
//
//   - kill_test.go: three `monologue serve` processes (the binary is built
//     once per test run) exchange numbered direct messages and channel
//     publications; one is killed with SIGKILL. Its connections must be
//     gone to senders within 2 s, the others carry on, and nothing is
//     delivered twice or out of order.
//   - freeze_test.go: a node frozen with SIGSTOP, as a machine that is
//     gone looks (no socket closes, nothing answers): its connections are
//     gone within 2 s all the same.
//   - leave_test.go: a node stopped with SIGTERM closes its connections
//     with 1001, and the other nodes answer gone for them at once.
//   - outage_test.go: three nodes in this process, joined through one
//     NATS server that the test stops and restarts. Each node keeps serving
//     its own connections, answers internal (not a hang) for what needs
//     another node, and recovers by itself.
//   - rolling_test.go: the nodes are restarted one at a time while clients
//     of the Go client, with Options.Reconnect, call each other and
//     subscribe; every call ends within its timeout, and everything works
//     again afterwards.
//
// The helpers: procs_test.go builds the binary and runs the nodes;
// ws_test.go is a WebSocket client independent of the server's code;
// traffic_test.go is the kill test's numbered traffic and its checks;
// probe_test.go asks, from many connections at once, whether connections
// are gone.
package chaos
