package relay

import (
	"context"
	"fmt"

	"github.com/monologue-go/monologue/wire"
)

// route serves one action for the connection of ev. frame is ev's body,
// parsed; a route must not keep it, nor ev, after it returns.
type route func(r *Relay, ctx context.Context, ev *Event, frame *wire.Frame) error

// routes maps each action ("" is a frame without one, the $default route)
// to the method that serves it. A feature lives in a file of its own
// (direct.go, channels.go) and is wired in here, and in disconnect when it
// keeps state about a connection.
var routes = map[string]route{
	"":                     (*Relay).sendMessage,
	wire.ActionSendMessage: (*Relay).sendMessage,
	wire.ActionLoopback:    (*Relay).loopback,
	wire.ActionSend:        (*Relay).echo,
	wire.ActionSubscribe:   (*Relay).subscription,
	wire.ActionUnsubscribe: (*Relay).subscription,
	wire.ActionPublish:     (*Relay).publishFrame,
}

// disconnect forgets everything the relay's stores keep about a connection
// that has closed.
func (r *Relay) disconnect(ctx context.Context, connectionID string) error {
	if err := r.opts.Channels.DropConnection(ctx, connectionID); err != nil {
		return fmt.Errorf("relay: drop subscriptions of %s: %w", connectionID, err)
	}
	return nil
}
