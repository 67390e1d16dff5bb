// Package bench measures monologue against peers in one run: NATS over
// WebSocket, Socket.IO, and a floor relay that does the least a WebSocket
// relay can. It is the engine of the monologue-bench command
// (cmd/monologue-bench; see README.md).
//
// Each peer's server runs as a child process (package peers, or Node for
// Socket.IO), pinned to core 0 when taskset exists, so that its CPU time and
// memory can be read from /proc; this process is the load generator, pinned
// to core 1. Every scenario runs the same way on every peer, through a small
// driver per peer, with the same payloads, and verifies every answer: a
// call's answer must equal its argument (which carries a unique token), a
// fan-out delivery must carry what was published, and every message must
// reach every subscriber. What does not verify is an error, never a sample.
// The monologue and floor servers are driven twice: by the Go client, which
// batches its writes, and by plain clients ("monologue+plain"), which write
// each frame by itself as most WebSocket clients do.
//
// A Spec with Nodes runs each peer as a deployment of that many nodes
// instead: the monologue command's serve in cluster mode (BuildMonologue
// builds it), nats-servers routed together, or Socket.IO servers sharing a
// redis-server that the harness starts. Callers call callees on other
// nodes, subscribers are spread over them, and the CPU time of every
// process is added up; the bytes that cross between the servers are read
// with ss.
//
// Entry points: Run measures a list of Spec on the peers of Options;
// Preset and SweepK build the lists; WriteTable, WriteMarkdown and
// WriteJSONLines report the results, and package plot draws them.
package bench
