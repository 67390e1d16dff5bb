package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/monologue-go/monologue/wire"
)

// DefaultMaxMessageSize is API Gateway's frame size limit, 128 KiB.
const DefaultMaxMessageSize = 128 << 10

// Sender posts a frame to a connection, like API Gateway's PostToConnection.
// It returns an error matching [wire.ErrGone] when the connection does not
// exist, [wire.ErrPayloadTooLarge] when data is over its limit, and
// [wire.ErrRateLimited] when the connection's send queue is full. Send must
// not block on a slow receiver, and must not retain data after it returns.
type Sender interface {
	Send(ctx context.Context, connectionID string, data []byte) error
}

// Channels stores channel subscriptions. Implementations must be safe for
// concurrent use.
type Channels interface {
	// Subscribe adds connectionID to channel; subscribing twice is not an error.
	Subscribe(ctx context.Context, channel, connectionID string) error
	// Unsubscribe removes connectionID from channel; removing an absent one is not an error.
	Unsubscribe(ctx context.Context, channel, connectionID string) error
	// Members calls fn with the channel's subscribers, a page at a time,
	// stopping at the first error fn returns. fn must not call back into
	// the store; it may keep no reference to the page after it returns.
	Members(ctx context.Context, channel string, fn func(connectionIDs []string) error) error
	// DropConnection removes connectionID from every channel.
	DropConnection(ctx context.Context, connectionID string) error
}

// Tenants tells which tenant (API key) a connection belongs to. The gateway
// implements it when it has several API keys; ok is false when the connection
// does not exist.
type Tenants interface {
	TenantOf(connectionID string) (tenant string, ok bool)
}

// Identity describes the client behind a connection.
type Identity struct {
	SourceIP  string
	UserAgent string
	// Tenant isolates connections: those of different tenants cannot message
	// each other, and channel names are per tenant. "" is the only tenant
	// when the server has one API key.
	Tenant string
}

// Event is one thing that happened on a connection.
type Event struct {
	ConnectionID string
	// Route is the route key: wire.RouteConnect, wire.RouteDisconnect,
	// wire.RouteDefault or one of wire.Actions.
	Route string
	// Body is the frame as the client sent it (nil for connect and disconnect).
	Body []byte
	// Frame, when not nil, is Body already parsed, so it is not parsed twice.
	Frame    *wire.Frame
	Identity Identity
}

// Options configures a Relay. Sender and Channels are required.
type Options struct {
	Sender   Sender
	Channels Channels
	// Tenants, when not nil, forbids messages between tenants. Nil: one tenant.
	Tenants Tenants
	// Logger receives errors of the Sender and the store. Nil: slog.Default().
	Logger *slog.Logger
	// MaxMessageSize is the largest frame the relay delivers; a larger one is
	// answered with payload_too_large. Zero: DefaultMaxMessageSize.
	MaxMessageSize int
	// FanoutConcurrency is how many sends a publish makes at once. Zero: 1,
	// right for a Sender that only queues; a Sender that makes a network call
	// per send (Lambda) wants more.
	FanoutConcurrency int
	// OnError, when not nil, is called with the code of every error frame the
	// relay sends, for metrics.
	OnError func(code wire.Code)
}

// Relay serves the routes of the protocol. It is safe for concurrent use.
type Relay struct {
	opts Options
	log  *slog.Logger
	bufs sync.Pool
}

// New returns a Relay. It panics when Sender or Channels is missing, since
// that is a programming error.
func New(opts Options) *Relay {
	if opts.Sender == nil || opts.Channels == nil {
		panic("relay: Options.Sender and Options.Channels are required")
	}
	if opts.MaxMessageSize <= 0 {
		opts.MaxMessageSize = DefaultMaxMessageSize
	}
	if opts.FanoutConcurrency <= 0 {
		opts.FanoutConcurrency = 1
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	r := &Relay{opts: opts, log: log}
	r.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return r
}

// Handle serves one event. Problems caused by the client are answered with
// an error frame to the client and are not returned; the returned error
// reports a failure of the Sender or the store (after the client has been
// told "internal").
func (r *Relay) Handle(ctx context.Context, ev Event) error {
	switch ev.Route {
	case wire.RouteConnect:
		return nil
	case wire.RouteDisconnect:
		if err := r.opts.Channels.DropConnection(ctx, ev.ConnectionID); err != nil {
			return fmt.Errorf("relay: drop subscriptions of %s: %w", ev.ConnectionID, err)
		}
		return nil
	}
	frame := ev.Frame
	if frame == nil {
		f, err := wire.Parse(ev.Body)
		if err != nil {
			return r.replyError(ctx, ev.ConnectionID, err, f.ID, "")
		}
		frame = &f
	}
	if frame.Whoami {
		return r.reply(ctx, ev.ConnectionID, []byte(ev.ConnectionID))
	}
	switch frame.Action {
	case "", wire.ActionSendMessage:
		if frame.To == "" {
			return r.replyError(ctx, ev.ConnectionID, wire.NewError(wire.CodeBadRequest, "missing to"), frame.ID, "")
		}
		return r.direct(ctx, &ev, frame, frame.To)
	case wire.ActionLoopback:
		return r.direct(ctx, &ev, frame, ev.ConnectionID)
	case wire.ActionSend:
		return r.build(ctx, ev.ConnectionID, func(b []byte) []byte { return wire.AppendSendReply(b, frame.Message) })
	case wire.ActionSubscribe, wire.ActionUnsubscribe:
		return r.subscription(ctx, &ev, frame)
	case wire.ActionPublish:
		if frame.Channel == "" {
			return r.replyError(ctx, ev.ConnectionID, wire.NewError(wire.CodeBadRequest, "missing channel"), frame.ID, "")
		}
		return r.publish(ctx, ev.ConnectionID, ev.Identity.Tenant, frame.Channel, ev.ConnectionID, frame.Payload, frame.ID)
	}
	return r.replyError(ctx, ev.ConnectionID, wire.NewError(wire.CodeUnknownAction, "unknown action "+quote(frame.Action)), frame.ID, "")
}

// direct delivers a message from ev's connection to "to".
func (r *Relay) direct(ctx context.Context, ev *Event, frame *wire.Frame, to string) error {
	from := ev.ConnectionID
	if wire.DirectSize(to, from, frame.Payload) > r.opts.MaxMessageSize {
		return r.replyError(ctx, from, tooLarge(r.opts.MaxMessageSize), frame.ID, to)
	}
	if r.opts.Tenants != nil && to != from {
		tenant, ok := r.opts.Tenants.TenantOf(to)
		if !ok {
			return r.replyError(ctx, from, wire.NewError(wire.CodeGone, "no connection "+quote(to)), frame.ID, to)
		}
		if tenant != ev.Identity.Tenant {
			return r.replyError(ctx, from, wire.NewError(wire.CodeForbidden, "connection "+quote(to)+" belongs to another tenant"), frame.ID, to)
		}
	}
	bp := r.bufs.Get().(*[]byte)
	buf := wire.AppendDirect((*bp)[:0], to, from, frame.Payload)
	err := r.opts.Sender.Send(ctx, to, buf)
	*bp = buf
	r.bufs.Put(bp)
	if err == nil {
		return nil
	}
	if errors.Is(err, wire.ErrGone) {
		err = wire.NewError(wire.CodeGone, "no connection "+quote(to))
	}
	return r.replyError(ctx, from, err, frame.ID, to)
}

func (r *Relay) subscription(ctx context.Context, ev *Event, frame *wire.Frame) error {
	if frame.Channel == "" {
		return r.replyError(ctx, ev.ConnectionID, wire.NewError(wire.CodeBadRequest, "missing channel"), frame.ID, "")
	}
	key := channelKey(ev.Identity.Tenant, frame.Channel)
	subscribe := frame.Action == wire.ActionSubscribe
	var err error
	if subscribe {
		err = r.opts.Channels.Subscribe(ctx, key, ev.ConnectionID)
	} else {
		err = r.opts.Channels.Unsubscribe(ctx, key, ev.ConnectionID)
	}
	if err != nil {
		return r.replyError(ctx, ev.ConnectionID, fmt.Errorf("relay: %s %q: %w", frame.Action, frame.Channel, err), frame.ID, "")
	}
	return r.build(ctx, ev.ConnectionID, func(b []byte) []byte {
		return wire.AppendSubscription(b, subscribe, frame.Channel, frame.ID)
	})
}

// Broadcast delivers payload to every subscriber of tenant's channel as
// {"channel":C,"payload":P}, as the HTTP publish endpoint does. It returns
// an error matching wire.ErrPayloadTooLarge when the frame is over the limit.
func (r *Relay) Broadcast(ctx context.Context, tenant, channel string, payload []byte) error {
	if channel == "" || len(channel) > wire.MaxChannelLength {
		return wire.NewError(wire.CodeBadRequest, "channel must be 1 to 256 bytes")
	}
	return r.publish(ctx, "", tenant, channel, "", payload, nil)
}

// channelKey is the store's name for a tenant's channel.
func channelKey(tenant, channel string) string {
	if tenant == "" {
		return channel
	}
	return tenant + ":" + channel
}

func tooLarge(limit int) error {
	return wire.NewError(wire.CodePayloadTooLarge, fmt.Sprintf("frame to deliver exceeds %d bytes", limit))
}

func quote(s string) string { return string(wire.AppendString(nil, s)) }
