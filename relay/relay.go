package relay

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/monologue-go/monologue/wire"
)

// DefaultMaxMessageSize is API Gateway's frame size limit, 128 KiB.
const DefaultMaxMessageSize = 128 << 10

// Options configures a Relay. Sender and Channels are required.
type Options struct {
	Sender   Sender
	Channels Channels
	// Watchers holds, per channel, the connections that subscribed with
	// "presence":true and so receive joined and left events: a store of
	// its own, with the channels' names, that nothing else reads. Nil:
	// presence subscriptions are refused (internal).
	Watchers Channels
	// Names holds who claimed which name. Nil: claim, release, presence of
	// a name and messages to "@name" are refused (internal).
	Names Names
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
		return r.disconnect(ctx, &ev)
	}
	frame := ev.Frame
	if frame == nil {
		f, err := wire.Parse(ev.Body)
		if err != nil {
			return r.replyError(ctx, &ev, err, f.ID, "")
		}
		frame = &f
	}
	if frame.Whoami {
		return r.reply(ctx, &ev, []byte(ev.ConnectionID))
	}
	if ok, err := r.route(ctx, &ev, frame); ok {
		return err
	}
	return r.replyError(ctx, &ev, wire.NewError(wire.CodeUnknownAction, "unknown action "+quote(frame.Action)), frame.ID, "")
}

// qualified is the stores' name for a tenant's channel or name.
func qualified(tenant, channel string) string {
	if tenant == "" {
		return channel
	}
	return tenant + ":" + channel
}

func tooLarge(limit int) error {
	return wire.NewError(wire.CodePayloadTooLarge, fmt.Sprintf("frame to deliver exceeds %d bytes", limit))
}

func quote(s string) string { return string(wire.AppendString(nil, s)) }
