// Package gateway is monologue's WebSocket server: the handshake and API
// keys, connection IDs, the read loop and route selection, limits, a bounded
// send queue per connection, API Gateway's @connections management API,
// HTTP publish, health and Prometheus metrics. It is both a self-hosted
// server and a local emulation of an API Gateway WebSocket API.
//
// Entry points: [New] builds a [Gateway] from [Options]; serve
// [Gateway.Handler] on the public listener (through [Gateway.Listener], so
// that the event loops answer WebSocket upgrades themselves) and
// [Gateway.AdminHandler] on a private one, each with an http.Server from
// [Gateway.HTTPServer], which bounds how long a request may take to arrive;
// [Gateway.Shutdown] closes every connection with status 1001.
// The management listener also serves the introspection API under /api/
// (connections, channels, names and nodes, of every node of a cluster that
// the [Cluster] given as Options.Remote reaches) and the dashboard at /,
// whose files are embedded. The gateway is the relay's [relay.Sender]
// ([Gateway.Send]); events go to an [Integration], the in-process relay
// unless Options.NewIntegration says otherwise.
//
// Data flows one way: socket → reader goroutine → Integration.Handle →
// Gateway.Send → socket, written by the sending goroutine when the
// connection is idle, and otherwise through the connection's queue and its
// writer goroutine. The gateway selects a route key and calls the
// integration; it knows nothing else about routes.
//
// # Goroutines
//
// Each connection has one reader at a time; it owns the socket's read side,
// the pooled read buffer, the rate limiter and the connection's teardown.
// While the connection is idle the reader is conn.wait, parked on the first
// two bytes of the next frame; when they arrive it becomes conn.serve, which
// handles messages until no bytes are buffered and then hands over to a new
// conn.wait goroutine and exits. Starting the idle wait on a fresh goroutine
// keeps its stack at the 2 KiB minimum however deep the last message's
// handling went. The hand-over is a go statement, so the reader's state
// passes with a happens-before edge and there is never more than one reader.
//
// A frame sent to an idle connection (nothing queued, no writer running)
// is written by the goroutine that sends it (conn.writeNow): on a plain TCP
// socket, one non-blocking write through internal/rawsock, so the sender
// never waits for the socket and the frame leaves without a goroutine being
// started for it. What the socket does not take goes to the front of the
// queue. Otherwise the frame is queued, and a writer goroutine
// (conn.writeLoop) is started by whoever queues a frame when none runs; it
// exits when the queue is empty, so an idle connection has a parked reader
// and nothing else. While a reader has more messages buffered, the frames
// they cause are queued rather than written at once (Send sees it in the
// context, see batchKey), so that they leave together in one write. The
// pongs of pings with more bytes buffered behind them are held in the
// queue without starting the writer (sendHeld), and the reader starts it
// (flushHeld) before its next read that may block or before it hands a
// message on, so a ping flood costs one write per read. TLS connections
// always queue. When the reader meets the end of the
// connection (conn.end) it queues the close frame (or discards the queue if
// the socket failed), waits for the writer, waits briefly for the client's
// close frame if the server closed first, closes the socket, sends
// $disconnect, and only then removes the connection from the table.
// Gateway.Shutdown waits for every connection's end through Gateway.running.
//
// Only the reader reads and only the writer writes: conn.writing makes one
// goroutine at a time the writer, writeLoop or a sender in writeNow, so
// writes never overlap and frames leave in the order they were queued. The
// writer closes the socket when a write fails or (writeLoop) passes
// WriteTimeout, which ends the reader. On plain TCP the reader's reads and
// writeNow's writes are raw system calls (internal/rawsock explains why).
// Other goroutines touch the socket only to set a read deadline in the past
// (conn.requestClose: Shutdown, DeleteConnection), which wakes the reader,
// and to close it when Shutdown gives up. Idle timeout, age limit and the
// frame timeout (a frame that has started must arrive whole within
// Options.FrameTimeout) are read deadlines too: no timer goroutines.
//
// # Event loops
//
// With the in-process relay over in-memory stores (whose Handle never
// waits), or a LoopIntegration (cluster mode), plain-TCP connections on
// Linux are served by event loops instead of reader goroutines: one per
// GOMAXPROCS (Options.EventLoops). After the
// handshake the connection's socket descriptor is duplicated and the
// original closed, which takes the socket out of Go's netpoller; the loop
// owns the duplicate in an epoll set of its own (edge-triggered). Each
// round the loop blocks in epoll_wait, reads each ready socket once (a
// read that does not fill its buffer has emptied the socket, so no read is
// spent to learn that, which a goroutine per connection cannot avoid:
// the netpoller wants EAGAIN before it parks), handles the whole frames it
// read, and then writes each connection the frames the round queued for it
// with one write (sendRound; the loop's context carries the loop, see
// sendModeOf). Frames from other goroutines go the ordinary way (writeNow,
// writeLoop). After a round that found two or more sockets ready the loop
// pauses 50 µs, so that under load more frames share each system call; a
// lone call never waits. An idle connection holds neither a goroutine nor
// a buffer. System calls per relayed call with one-frame-per-write clients
// fall from about five to under three (BENCHMARKS.md).
//
// Served through [Gateway.Listener], the loops accept the public
// listener's connections too (a duplicate of its descriptor in each loop's
// epoll set, EPOLLEXCLUSIVE), read each one's first request, and answer a
// well-formed upgrade themselves: the same handshake function as net/http's
// requests (API key, admission, $connect), then 101 written by the loop,
// and the socket is the loop's from its accept on: no net/http goroutine,
// no netpoller, no duplicate. Anything else (POST /channels, /healthz, a
// request over 4 KiB, an unusual one) goes to the http.Server through the
// returned listener, as a connection whose first bytes are what the loop
// read. A request that does not arrive whole within HTTPReadTimeout is
// dropped by the loop's sweep, as net/http drops it.
//
// A LoopIntegration's Immediate is asked of each text frame before the
// loop handles it; a frame that would wait (in cluster mode: names,
// presence, subscriptions, a message to a node not heard of yet) goes,
// unhandled, to a goroutine running the ordinary reader, as below. Such a
// loop also calls runtime.Gosched after each round, and waits for events
// parked in Go's netpoller on its epoll descriptor rather than in
// epoll_wait, so that the integration's goroutines (the NATS client's)
// run promptly on few Ps; it does not pause after busy rounds. What a
// Sender holds for one write per round it writes through AtRoundEnd.
// A Batch gives any goroutine a round of its own: frames sent under its
// context are written at Flush, one write per connection (conn.flushRound).
//
// The loop handles whole unfragmented text, binary, ping and
// pong frames, and frames that arrive in pieces. Anything else — a close
// frame, a fragment, a frame over the size limit, a protocol error, the
// end of the stream, a close asked for, a passed deadline (idle timeout,
// age limit, frame timeout: the loop sweeps them when the earliest is due)
// — it hands to a goroutine running the ordinary reader (conn.serve,
// conn.end) with the bytes it holds as conn.early. That goroutine reads
// the same socket: its reads are non-blocking, and on EAGAIN it waits for
// the loop to signal conn.readable (or for its deadline); it gives the
// connection back to the loop (conn.park) once it has waited handoffDelay
// for a message, as it would hand over to a fresh goroutine. A writer that
// finds the socket's send buffer full waits for the loop to signal
// conn.writable, within WriteTimeout. Only the loop changes conn.looped;
// descriptors are closed (conn.closeSocket) only by a connection's
// teardown, after its writers are done, under conn.mu, so breakSocket
// never reaches a descriptor that was reused.
//
// # Locks
//
// Lock order: Gateway.lifecycle, then a table shard's mu; conn.mu is a leaf,
// never held while taking another lock or doing I/O, except that a loop's
// connection closes or shuts down its socket under it (closeSocket takes
// the loop's mu after it). A loop's mu guards its descriptor table and its
// tasks; its list of connections to write at the end of the round has a
// mutex of its own, taken after conn.mu is released. The writer holds no lock
// while it writes: writeNow marks itself the writer and counts its frame in
// flight under conn.mu, releases it, then writes, and takes it again to
// settle. The socket's own write lock (taken inside net.Conn.Write and
// RawConn.Write) is only ever taken by the writer, so writeNow never waits
// on it. Gateway.Send looks the connection up under the shard's read lock,
// releases it, then takes conn.mu to queue or write.
//
// # Memory
//
// An idle connection holds its conn struct, its socket and its reader's
// stack: read buffers come from a pool when bytes arrive and go back when
// none are buffered; the send queue is ready-framed bytes in pooled chunks
// (sendQueue), present only while frames wait: it grows a chunk of at most
// 64 KiB at a time, never by reallocating what it holds, and every chunk
// goes back to its pool once written. The queue is bounded in frames and
// bytes (Options.SendQueueFrames, SendQueueBytes), counting the frame
// writeNow is writing as in flight; the writer drains everything queued with
// one Write call (one writev when it spans chunks). The bytes in all queues
// together are counted when queued and uncounted when written or dropped
// (Gateway.QueuedBytes), and bounded by Options.MaxQueuedBytes; a frame a
// loop's round queues for a connection with nothing else waiting is exempt
// from that bound, as writeNow's is, since it leaves at the end of the
// round. Measured with 15,000 idle connections: about 5.3 KiB of RSS each
// with reader goroutines (a 2 KiB stack, about 1.5 KiB of live heap, and GC
// headroom), about 1.8 KiB with event loops (no goroutine, no net/http
// state); TLS connections cost more (crypto/tls keeps its own buffers).
package gateway
