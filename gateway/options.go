package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Defaults of [Options], mirroring API Gateway's WebSocket limits where it has one.
const (
	DefaultMaxMessageSize   = relay.DefaultMaxMessageSize // 128 KiB
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultMaxConnectionAge = 2 * time.Hour
	DefaultSendQueueFrames  = 1024
	DefaultSendQueueBytes   = 4 << 20 // 4 MiB
	DefaultWriteTimeout     = 10 * time.Second
	DefaultFrameTimeout     = 10 * time.Second
)

// fallbackMaxQueuedBytes is the default MaxQueuedBytes where the memory
// the process may use is unknown.
const fallbackMaxQueuedBytes = 1 << 30

// defaultMaxQueuedBytes is a quarter of the memory the process may use.
func defaultMaxQueuedBytes() int64 {
	memory := usableMemory()
	if memory == 0 {
		return fallbackMaxQueuedBytes
	}
	return int64(min(memory/4, 1<<62))
}

// fileReserve is the least number of file descriptors the default
// MaxConnections leaves for everything that is not a WebSocket, and
// fallbackMaxConnections the default where the file limit is unknown.
const (
	fileReserve            = 64
	fallbackMaxConnections = 10000
)

// Integration is what the gateway hands events to: the in-process relay by
// default, or an adapter that turns events into API Gateway event JSON for a
// Lambda handler. *relay.Relay satisfies it.
//
// Handle is called from the connection's reader goroutine, one event at a
// time per connection, so events of one connection arrive in order. It must
// not retain ev.Body or ev.Frame after it returns. For $connect, the context
// carries the handshake request (see [ConnectRequest]), and a returned error
// refuses the connection: with the HTTP status of a *wire.Error in it (403
// for forbidden, as a Lambda authorizer would), else with 500.
type Integration interface {
	Handle(ctx context.Context, ev relay.Event) error
	// Broadcast serves POST /channels/{channel}: it delivers payload to every
	// subscriber of tenant's channel. A *wire.Error in the returned error
	// chooses the HTTP status (bad_request 400, payload_too_large 413, …).
	Broadcast(ctx context.Context, tenant, channel string, payload []byte) error
}

// A LoopIntegration is an Integration that can serve most events on an
// event loop (see Options.EventLoops) although some of its events wait (on
// a network, on another node): Immediate reports whether Handle serves ev
// without waiting. A loop asks before it handles each frame it has read,
// and hands a connection whose frame would wait to a goroutine of its own,
// which serves that frame and the connection's next ones, and gives the
// connection back once it is idle; so a frame that waits holds up only its
// own connection. A loop that serves a LoopIntegration gives the processor
// to other goroutines after each round and waits for events through Go's
// netpoller, since the integration's own goroutines (a network client's)
// must run promptly. $connect of a handshake a loop answers runs on the
// loop only when Immediate says so of it.
type LoopIntegration interface {
	Integration
	Immediate(ev *relay.Event) bool
}

// Options configures a [Gateway]. The zero value of every field means the
// documented default, so Options{} is a working single-tenant server with no
// API key.
type Options struct {
	// MaxMessageSize is the largest client message (fragments reassembled)
	// and the largest frame delivered to a client, in bytes. A message of
	// exactly this size is accepted; one byte more closes the connection with
	// status 1009. Zero: DefaultMaxMessageSize (128 KiB).
	MaxMessageSize int

	// IdleTimeout closes a connection with status 1001 when no frame went
	// either way for this long. Zero: DefaultIdleTimeout (10 minutes);
	// negative: no idle timeout.
	IdleTimeout time.Duration

	// MaxConnectionAge closes a connection with status 1001 this long after
	// it opened. Zero: DefaultMaxConnectionAge (2 hours); negative: none.
	MaxConnectionAge time.Duration

	// APIKeys are the keys a client may present (header x-api-key or query
	// parameter apiKey). Each key is a tenant: with one key the tenant is "",
	// with several each gets a stable label derived from a hash of the key.
	// Empty: no key is required and every client is tenant "".
	APIKeys []string

	// SendQueueFrames and SendQueueBytes bound each connection's send queue
	// (frames queued or being written). A send to a full queue fails with
	// rate_limited and is counted as a drop; a single frame always fits in
	// an empty queue. Zero: DefaultSendQueueFrames (1024) and
	// DefaultSendQueueBytes (4 MiB).
	SendQueueFrames int
	SendQueueBytes  int

	// WriteTimeout closes a connection whose socket write blocks for longer
	// than this (a client that stopped reading). It also bounds how long a
	// closing connection waits for the client's close frame (at most 2 s).
	// Zero: DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration

	// MessageRate limits each connection to this many messages per second
	// (a token bucket holding MessageBurst messages); a message over the
	// limit is not handled and is answered with rate_limited. A ping costs
	// a token too; one over the limit is dropped without a pong (and
	// counted in monologue_queue_drops_total, reason ping_rate_limited).
	// Zero: no limit.
	MessageRate float64
	// MessageBurst is the bucket size. Zero: MessageRate rounded up, at least 1.
	MessageBurst int

	// MaxConnections caps the open WebSocket connections; a handshake over
	// it is refused with HTTP 503. Zero: what the process's file limit
	// allows, less a reserve (the larger of 64 files and 2%) so that the
	// listeners, the management API and metrics keep working at the cap.
	// Negative: no cap.
	MaxConnections int
	// MaxConnectionsPerIP caps the connections from one source address,
	// and MaxConnectionsPerKey those made with one API key; a handshake
	// over either is refused with HTTP 429. Zero: no cap.
	MaxConnectionsPerIP  int
	MaxConnectionsPerKey int

	// EventLoops is how many event loops serve plain-TCP WebSocket
	// connections on Linux: each loop owns an epoll set and reads every
	// ready socket once per round, handles what it read, and writes each
	// connection the round's frames with one system call, so the system
	// calls and wake-ups of many connections are shared when they are busy,
	// and an idle connection costs no goroutine. A loop calls the
	// integration's Handle itself, so a Handle that waits (on a network, on
	// another node) holds up every connection of that loop, unless it is a
	// LoopIntegration. Zero: one loop per GOMAXPROCS for the default
	// integration (the in-process relay over in-memory stores, which never
	// waits) and for a LoopIntegration, none for any other; negative:
	// none, every connection gets a reader goroutine. TLS connections always
	// get a reader goroutine.
	EventLoops int

	// FrameTimeout bounds how long a WebSocket frame that has started may
	// take to arrive whole: once its first byte has arrived and the reader
	// waits for the rest, the rest must come within FrameTimeout, or the
	// connection is closed with status 1008 (policy violation: the client
	// broke the server's rule, where 1001 would say the server is going
	// away). It keeps a client from holding a read buffer and a message
	// buffer by stalling in the middle of a frame, which the idle timeout
	// would allow for minutes. Time between frames is the idle timeout's.
	// Zero: DefaultFrameTimeout (10 s); negative: none.
	FrameTimeout time.Duration

	// MaxQueuedBytes bounds the bytes waiting in the send queues of all
	// connections together (each queue is bounded by SendQueueBytes too),
	// so that many receivers that do not read cannot run the process out
	// of memory between them. Past it, a frame that would have to wait in
	// a queue is refused with rate_limited, as a send to a full queue is,
	// and counted as a drop (reason max_queued_bytes); a frame the socket
	// takes at once is still sent. Frames of the close handshake are never
	// refused. The bytes queued are the gauge monologue_queued_bytes and
	// [Gateway.QueuedBytes]. Zero: a quarter of the memory the process may
	// use (the machine's, or its cgroup's limit when lower); negative: no
	// limit.
	MaxQueuedBytes int64

	// HTTPReadTimeout bounds reading an HTTP request on either listener,
	// as served by [Gateway.HTTPServer]: its headers must arrive within it,
	// and then its body within it again, or the request is cut off. It
	// keeps a client that sends a byte now and then from holding a
	// connection and a goroutine for ever. Zero: DefaultHTTPReadTimeout
	// (10 s); negative: none.
	HTTPReadTimeout time.Duration

	// MaxSubscriptionsPerConnection bounds how many channels one connection
	// may join in the default in-memory channel store. Zero:
	// channels.DefaultMaxPerConnection.
	MaxSubscriptionsPerConnection int

	// MaxNamesPerConnection bounds how many names one connection may hold
	// in the default in-memory name store; past it, claim answers
	// limit_exceeded. Zero: names.DefaultMaxPerConnection (64).
	MaxNamesPerConnection int

	// Logger receives one Info line per connection opened and closed, and
	// errors. Nil: slog.Default().
	Logger *slog.Logger

	// Registerer receives the gateway's Prometheus metrics; when it is also a
	// prometheus.Gatherer (a *prometheus.Registry), GET /metrics serves it.
	// Nil: a registry of the gateway's own, with Go and process collectors.
	Registerer prometheus.Registerer

	// AdminAccessKeyID and AdminSecretAccessKey, set together, are the one
	// AWS access key the management listener ([Gateway.AdminHandler])
	// accepts: every request to it except GET /healthz and /metrics must
	// carry an AWS Signature Version 4 made with them for service
	// execute-api, in any region, as API Gateway demands of its
	// @connections API, so the AWS SDK's apigatewaymanagementapi client
	// given this key works unchanged. A missing or wrong signature, or one
	// made more than 15 minutes from the server's clock, is answered 403
	// with x-amzn-ErrorType ForbiddenException. Setting only one of the two
	// refuses every such request. Empty: no signature is required, so
	// serve the management listener on loopback only.
	AdminAccessKeyID     string
	AdminSecretAccessKey string

	// CallbackRateLimit, when positive, is how many @connections requests
	// per second the management listener accepts, all connections together,
	// with a burst of a tenth of a second's worth: past it, 429
	// LimitExceededException, as API Gateway throttles an account's calls
	// in a Region. Zero: no limit.
	CallbackRateLimit float64

	// AdminHosts are more Host header values the management listener
	// accepts, as "host:port", or "host" for any port; "*" accepts any
	// Host. Whatever it holds, a request is accepted whose Host names the
	// address its connection came in on (for a loopback address also
	// localhost or any loopback address, with that port); any other gets 403
	// ForbiddenException, so that a web page cannot reach the listener by
	// pointing its own domain at the listener's address (DNS rebinding).
	// List the names clients use other than an address, such as a DNS name
	// the listener is reached by. A handler served by something other than
	// net/http's Server, which does not record the connection's address,
	// accepts only these. Nil: the connection's address only.
	//
	// Whatever the options, the management listener also refuses with 403
	// a request from a web page of another origin (an Origin header other
	// than the origin its Host header names, or Sec-Fetch-Site cross-site
	// or same-site), so that a page elsewhere cannot post to a connection;
	// programs such as the AWS SDK send neither header.
	AdminHosts []string

	// NewConnectionID returns the ID of each new connection. Nil:
	// wire.NewConnectionID. A cluster node's IDs carry its tag.
	NewConnectionID func() string

	// Remote, when not nil, reaches the connections of the other nodes of
	// a cluster, for the management API; when it is also a [Cluster], the
	// introspection API lists every node's. Nil: this node is the gateway.
	Remote Remote

	// Address is the gateway's public address as clients dial it (its
	// WebSocket URL), shown by the introspection API and the dashboard.
	// Empty: none shown.
	Address string

	// NewIntegration builds the integration that events go to, given the
	// gateway (a relay.Sender and relay.Tenants). It is called once, by New.
	// Nil: an in-process relay over the gateway and an in-memory channel
	// store (see [Gateway.RelayOptions]).
	NewIntegration func(gw *Gateway) (Integration, error)
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxConnectionAge == 0 {
		o.MaxConnectionAge = DefaultMaxConnectionAge
	}
	if o.MaxConnections == 0 {
		o.MaxConnections = defaultMaxConnections()
	}
	if o.SendQueueFrames <= 0 {
		o.SendQueueFrames = DefaultSendQueueFrames
	}
	if o.SendQueueBytes <= 0 {
		o.SendQueueBytes = DefaultSendQueueBytes
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.FrameTimeout == 0 {
		o.FrameTimeout = DefaultFrameTimeout
	}
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = defaultMaxQueuedBytes()
	}
	if o.HTTPReadTimeout == 0 {
		o.HTTPReadTimeout = DefaultHTTPReadTimeout
	}
	if o.MessageRate > 0 && o.MessageBurst <= 0 {
		o.MessageBurst = max(1, int(o.MessageRate+0.999999))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.NewConnectionID == nil {
		o.NewConnectionID = wire.NewConnectionID
	}
	return o
}

// closeTimeout is how long a connection closed by the server waits for the
// client's close frame before it drops the TCP connection.
func (o *Options) closeTimeout() time.Duration {
	return min(o.WriteTimeout, 2*time.Second)
}
