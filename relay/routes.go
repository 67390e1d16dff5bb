package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/monologue-go/monologue/wire"
)

// route serves one action for the connection of ev. frame is ev's body,
// parsed; a route must not keep it, nor ev, after it returns.
type route func(r *Relay, ctx context.Context, ev *Event, frame *wire.Frame) error

// routes maps each action ("" is a frame without one, the $default route)
// to the method that serves it. A feature lives in a file of its own
// (direct.go, channels.go, names.go) and is wired in here, and in
// disconnect when it keeps state about a connection.
var routes = map[string]route{
	"":                     (*Relay).sendMessage,
	wire.ActionSendMessage: (*Relay).sendMessage,
	wire.ActionLoopback:    (*Relay).loopback,
	wire.ActionSend:        (*Relay).echo,
	wire.ActionSubscribe:   (*Relay).subscription,
	wire.ActionUnsubscribe: (*Relay).subscription,
	wire.ActionPublish:     (*Relay).publishFrame,
	wire.ActionClaim:       (*Relay).claim,
	wire.ActionRelease:     (*Relay).release,
	wire.ActionPresence:    (*Relay).presence,
}

// disconnect forgets everything the relay's stores keep about a connection
// that has closed, and tells the watchers of its channels that it left.
func (r *Relay) disconnect(ctx context.Context, ev *Event) error {
	id := ev.ConnectionID
	var errs []error
	left, err := r.opts.Channels.DropConnection(ctx, id)
	if err != nil {
		errs = append(errs, fmt.Errorf("relay: drop subscriptions of %s: %w", id, err))
	}
	if r.opts.Watchers != nil {
		if _, err := r.opts.Watchers.DropConnection(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("relay: drop presence subscriptions of %s: %w", id, err))
		}
		for _, key := range left {
			r.presenceEvent(ctx, ev.Identity.Tenant, key, id, false)
		}
	}
	if r.opts.Names != nil {
		if err := r.opts.Names.DropConnection(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("relay: release the names of %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
