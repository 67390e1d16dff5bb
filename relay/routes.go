package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/monologue-go/monologue/wire"
)

// route serves ev's action ("" is a frame without one, the $default
// route); ok is false for an action the protocol does not have. A feature
// lives in a file of its own (direct.go, channels.go, names.go) and is wired
// in here, and in disconnect when it keeps state about a connection.
//
// A switch of direct calls, not a table of functions: the actions are
// interned by the parser, so the cases are a few comparisons; and a call
// through a function value would make ev escape to the heap, an allocation
// per message.
func (r *Relay) route(ctx context.Context, ev *Event, frame *wire.Frame) (ok bool, err error) {
	switch frame.Action {
	case "", wire.ActionSendMessage:
		return true, r.sendMessage(ctx, ev, frame)
	case wire.ActionLoopback:
		return true, r.loopback(ctx, ev, frame)
	case wire.ActionSend:
		return true, r.echo(ctx, ev, frame)
	case wire.ActionSubscribe, wire.ActionUnsubscribe:
		return true, r.subscription(ctx, ev, frame)
	case wire.ActionPublish:
		return true, r.publishFrame(ctx, ev, frame)
	case wire.ActionClaim:
		return true, r.claim(ctx, ev, frame)
	case wire.ActionRelease:
		return true, r.release(ctx, ev, frame)
	case wire.ActionPresence:
		return true, r.presence(ctx, ev, frame)
	}
	return false, nil
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
