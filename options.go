package monologue

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Defaults of [Options].
const (
	DefaultCallTimeout           = 15 * time.Second
	DefaultMaxHandlers           = 100
	DefaultMaxConcurrentHandlers = 1024
	DefaultMessageBuffer         = 1024
	DefaultMaxSendSize           = 128 << 10
	DefaultMaxReceiveSize        = 16 << 20
	DefaultKeepAlive             = 4 * time.Minute
)

// Options configures a [Client]. A nil *Options, and every zero field, means
// the default described on the field.
type Options struct {
	// Endpoint is the gateway's WebSocket URL, e.g. "ws://127.0.0.1:8080/"
	// or "wss://abc.execute-api.eu-west-1.amazonaws.com/latest". http and
	// https URLs are taken as ws and wss; a bare "host:port" as ws.
	// Empty: MONOLOGUE_ENDPOINT, else endpoint= of .monologuerc (see
	// [LoadConfig]).
	Endpoint string

	// APIKey is sent as the x-api-key header of the handshake. Empty:
	// MONOLOGUE_API_KEY, else apiKey= of .monologuerc.
	APIKey string

	// CallTimeout bounds how long Call, Subscribe and Unsubscribe wait for
	// their reply when ctx has no earlier deadline, and how long Dial and
	// each reconnection wait for the handshake. Zero: 15 s, as the original
	// client. Negative: no timeout but ctx's.
	CallTimeout time.Duration

	// MaxHandlers bounds the number of methods with a handler; Handle past it
	// fails with ErrTooManyHandlers. Zero: 100, as the original client.
	MaxHandlers int

	// MaxConcurrentHandlers bounds how many incoming requests are served at
	// once. A request beyond it is answered at once with the error code
	// "rate_limited" (the caller sees an error matching ErrRateLimited),
	// so that a slow handler never stalls the connection. Zero: 1024.
	MaxConcurrentHandlers int

	// Fallback answers requests for methods that have no handler of their
	// own. Nil: they are answered with the error code "not_found". A
	// Fallback may return ErrNotFound to give that answer itself.
	Fallback HandlerFunc

	// OnMessage receives direct messages that are not RPC, and messages of
	// subscribed channels. It is called from one goroutine, in the order
	// messages arrived, fed by a queue of MessageBuffer messages; when the
	// queue is full (OnMessage is too slow), new messages are dropped,
	// counted in DroppedMessages and logged. Nil: such messages are dropped
	// silently.
	OnMessage func(Message)

	// OnError, when not nil, receives the errors the gateway reports about
	// frames no operation waits for: a Send to a peer that is gone, a Publish
	// over the size limit, an answer to a caller that left. It is called on
	// the goroutine that reads the connection, and must return quickly; it
	// may call Close.
	// Nil: such errors are logged at level Warn. See also Ping.
	OnError func(error)

	// MessageBuffer is the length of OnMessage's queue. Zero: 1024.
	MessageBuffer int

	// Reconnect makes the client dial again when the connection drops (for
	// instance when the gateway closes it at its maximum age of 2 hours),
	// with exponential backoff and jitter, until it succeeds or Close is
	// called. The new connection has a new ID; handlers are kept and
	// subscribed channels are subscribed again. Calls in flight when the
	// connection drops fail with an error matching ErrDisconnected, as do
	// operations attempted before the new connection is up.
	// False: once the connection drops, every operation fails with
	// ErrDisconnected; Close must still be called.
	Reconnect bool

	// Name, when not empty, is claimed right after dialing (Dial fails if
	// the claim does), exclusively when NameExclusive is set, and claimed
	// again after each reconnection: peers reach this client at "@"+Name
	// whatever its connection ID.
	Name          string
	NameExclusive bool

	// OnPresence, when not nil, receives the joined and left events of the
	// channels subscribed WithPresence. It runs on the goroutine that calls
	// OnMessage.
	OnPresence func(PresenceEvent)

	// OnNameLost, when not nil, is told when another connection took one
	// of this client's names with an exclusive claim; the name is then not
	// claimed again on reconnection. It runs on the goroutine that calls
	// OnMessage. Nil: the loss is logged at level Info.
	OnNameLost func(name string)

	// OnReconnect, when not nil, is called with the new connection ID after
	// each successful reconnection, once the channels are subscribed again.
	// It runs on the goroutine that calls OnMessage.
	OnReconnect func(id string)

	// Logger receives the client's diagnostics: reconnections, dropped
	// messages, error frames that match no request, handler panics.
	// Nil: slog.Default().
	Logger *slog.Logger

	// HTTPHeader holds extra headers for the WebSocket handshake.
	HTTPHeader http.Header

	// TLSConfig configures TLS for wss endpoints. Nil: the default.
	TLSConfig *tls.Config

	// NetDial, when not nil, opens the TCP connection instead of a
	// net.Dialer (for proxies, or tests).
	NetDial func(ctx context.Context, network, address string) (net.Conn, error)

	// MaxSendSize bounds an outgoing frame, envelope included. The gateway
	// closes the connection (1009) on a message over its limit, failing
	// every call in flight, so the client never sends a larger frame. A
	// call's request, a handler's result and a Send over it are sent in
	// parts, each within it, to a peer that accepts chunked messages (see
	// ChunkBudget). Otherwise — a Publish, chunking off, a peer without
	// chunking — the operation fails with an error matching
	// ErrPayloadTooLarge or ErrChunkingUnsupported, and a handler's result
	// that is too large is answered with the error code "payload_too_large".
	// Zero: 128 KiB, the default limit of the gateway and of API Gateway.
	// Negative: no limit (and nothing is chunked).
	MaxSendSize int

	// MaxReceiveSize bounds an incoming message; the connection is closed
	// (1009) when the gateway sends a larger one. Zero: 16 MiB.
	MaxReceiveSize int

	// ChunkBudget bounds the memory held by incoming chunked messages
	// (payloads over the sender's size limit, sent in parts: the Chunking
	// section of wire/PROTOCOL.md) while they are incomplete, all peers
	// together; it is also the largest chunked message accepted. An offer
	// that does not fit is refused, and the sender's operation fails with
	// an error matching ErrPayloadTooLarge (over the whole budget) or
	// ErrRateLimited (over what is left of it). Zero: 64 MiB. Negative:
	// chunking is off both ways: an operation over MaxSendSize fails with
	// ErrPayloadTooLarge, and offers are refused as "not_found".
	ChunkBudget int

	// ChunkTimeout is how long an incomplete incoming chunked message waits
	// for its next part before it is dropped; its sender's operation fails
	// with an error matching context.DeadlineExceeded. Zero: 30 s.
	ChunkTimeout time.Duration

	// KeepAlive is how often the client checks that it has written
	// something; when it has not, it sends a WebSocket ping, so the
	// connection never reaches the gateway's idle timeout (10 minutes).
	// Zero: 4 minutes. Negative: no pings.
	KeepAlive time.Duration
}

// resolve returns a copy of o with the configuration filled in and the
// defaults applied.
func (o *Options) resolve() (Options, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Endpoint == "" || opts.APIKey == "" {
		cfg, err := LoadConfig()
		if err != nil {
			return opts, err
		}
		if opts.Endpoint == "" {
			opts.Endpoint = cfg.Endpoint
		}
		if opts.APIKey == "" {
			opts.APIKey = cfg.APIKey
		}
	}
	if opts.Endpoint == "" {
		return opts, errors.New("monologue: no endpoint: set Options.Endpoint, " + EnvEndpoint + ", or endpoint= in " + ConfigFile)
	}
	opts.Endpoint = normalizeEndpoint(opts.Endpoint)
	if opts.CallTimeout == 0 {
		opts.CallTimeout = DefaultCallTimeout
	}
	if opts.MaxHandlers <= 0 {
		opts.MaxHandlers = DefaultMaxHandlers
	}
	if opts.MaxConcurrentHandlers <= 0 {
		opts.MaxConcurrentHandlers = DefaultMaxConcurrentHandlers
	}
	if opts.MessageBuffer <= 0 {
		opts.MessageBuffer = DefaultMessageBuffer
	}
	if opts.MaxSendSize == 0 {
		opts.MaxSendSize = DefaultMaxSendSize
	}
	if opts.MaxReceiveSize <= 0 {
		opts.MaxReceiveSize = DefaultMaxReceiveSize
	}
	if opts.ChunkBudget == 0 {
		opts.ChunkBudget = DefaultChunkBudget
	}
	if opts.ChunkTimeout <= 0 {
		opts.ChunkTimeout = DefaultChunkTimeout
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = DefaultKeepAlive
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return opts, nil
}

// normalizeEndpoint maps http(s) to ws(s), adds ws:// to a bare host:port
// and "/" to an empty path.
func normalizeEndpoint(endpoint string) string {
	switch {
	case strings.HasPrefix(endpoint, "http://"):
		endpoint = "ws://" + strings.TrimPrefix(endpoint, "http://")
	case strings.HasPrefix(endpoint, "https://"):
		endpoint = "wss://" + strings.TrimPrefix(endpoint, "https://")
	case !strings.Contains(endpoint, "://"):
		endpoint = "ws://" + endpoint
	}
	scheme, rest, _ := strings.Cut(endpoint, "://")
	if !strings.ContainsAny(rest, "/?") {
		rest += "/"
	} else if i := strings.IndexAny(rest, "/?"); rest[i] == '?' {
		rest = rest[:i] + "/" + rest[i:]
	}
	return scheme + "://" + rest
}

// handshakeTimeout is how long a handshake may take when ctx has no deadline.
func (o *Options) handshakeTimeout() time.Duration {
	if o.CallTimeout > 0 {
		return o.CallTimeout
	}
	return DefaultCallTimeout
}
