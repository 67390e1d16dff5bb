package monologue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/monologue-go/monologue/wire"
)

// ClaimOption changes how Claim claims a name.
type ClaimOption func(*claimOptions)

type claimOptions struct{ exclusive bool }

// Exclusive makes a claim "newest wins": every other holder of the name
// loses it at once (and is told, in its Options.OnNameLost). It is how a
// peer takes its stable name back after a reconnection while its old
// connection may still look alive.
func Exclusive() ClaimOption { return func(o *claimOptions) { o.exclusive = true } }

// Claim makes this client a holder of name, so that peers reach it at
// "@name" (Call, Send): a message to a name goes to one of its holders,
// chosen at random, so several clients that claim one name form a
// load-balanced service group. It waits for the gateway's confirmation.
// With Options.Reconnect the name is claimed again (exclusively, if it was)
// after each reconnection. A name is 1 to 128 letters, digits or
// . _ - : /, starting with a letter or a digit.
func (c *Client) Claim(ctx context.Context, name string, options ...ClaimOption) error {
	var o claimOptions
	for _, opt := range options {
		opt(&o)
	}
	cn, err := c.current()
	if err == nil {
		err = c.claim(ctx, cn, name, o.exclusive)
	}
	if err != nil {
		return wrap("claim "+strconv.Quote(name), err)
	}
	c.subscriptionsMu.Lock()
	c.names[name] = o.exclusive
	c.subscriptionsMu.Unlock()
	return nil
}

// Release gives up name, and waits for the gateway's confirmation.
func (c *Client) Release(ctx context.Context, name string) error {
	c.subscriptionsMu.Lock()
	delete(c.names, name)
	c.subscriptionsMu.Unlock()
	cn, err := c.current()
	if err == nil {
		err = c.nameFrame(ctx, cn, "release", name, false)
	}
	return wrap("release "+strconv.Quote(name), err)
}

func (c *Client) claim(ctx context.Context, cn *connection, name string, exclusive bool) error {
	return c.nameFrame(ctx, cn, "claim", name, exclusive)
}

// nameFrame sends claim or release with an id and waits for the reply.
func (c *Client) nameFrame(ctx context.Context, cn *connection, action, name string, exclusive bool) error {
	if !wire.ValidName(name) {
		return fmt.Errorf("%w: %q is not a name (1 to 128 letters, digits or . _ - : /, starting with a letter or a digit)", ErrBadRequest, name)
	}
	id := c.nextID.Add(1)
	b := make([]byte, 0, 64+len(name))
	b = append(b, `{"action":`...)
	b = wire.AppendString(b, action)
	b = append(b, `,"name":`...)
	b = wire.AppendString(b, name)
	if exclusive {
		b = append(b, `,"exclusive":true`...)
	}
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, id, 10)
	return c.roundTrip(ctx, cn, id, append(b, '}'))
}

// Presence is who is in a channel, or holds a name.
type Presence struct {
	// Count is how many connections there are.
	Count int `json:"count"`
	// Members are their IDs, at most 1,000 of them (Count may be larger).
	Members []string `json:"members"`
}

// Presence returns the members of channel, on every node of the gateway.
func (c *Client) Presence(ctx context.Context, channel string) (Presence, error) {
	if err := checkChannel(channel); err != nil {
		return Presence{}, wrap("presence of "+strconv.Quote(channel), err)
	}
	p, err := c.presence(ctx, "channel", channel)
	return p, wrap("presence of "+strconv.Quote(channel), err)
}

// Holders returns the holders of name.
func (c *Client) Holders(ctx context.Context, name string) (Presence, error) {
	p, err := c.presence(ctx, "name", name)
	return p, wrap("holders of "+strconv.Quote(name), err)
}

func (c *Client) presence(ctx context.Context, field, key string) (Presence, error) {
	cn, err := c.current()
	if err != nil {
		return Presence{}, err
	}
	id := c.nextID.Add(1)
	b := make([]byte, 0, 64+len(key))
	b = append(b, `{"action":"presence","`...)
	b = append(b, field...)
	b = append(b, `":`...)
	b = wire.AppendString(b, key)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, id, 10)
	raw, err := c.roundTripResult(ctx, cn, id, append(b, '}'))
	if err != nil {
		return Presence{}, err
	}
	var p Presence
	if err := json.Unmarshal(raw, &p); err != nil {
		return Presence{}, fmt.Errorf("decode the presence reply: %w", err)
	}
	return p, nil
}

// PresenceEvent is a connection that joined or left a channel this client
// subscribed to with WithPresence, as Options.OnPresence receives it.
type PresenceEvent struct {
	Channel string
	// Joined is true when ID subscribed, false when it left (unsubscribed,
	// disconnected, timed out, or its node died).
	Joined bool
	ID     string
}

// SubscribeOption changes how Subscribe subscribes.
type SubscribeOption func(*subscribeOptions)

type subscribeOptions struct{ presence bool }

// WithPresence makes the subscription also deliver, in
// Options.OnPresence, a PresenceEvent each time another connection
// subscribes to the channel or leaves it.
func WithPresence() SubscribeOption { return func(o *subscribeOptions) { o.presence = true } }

// isName reports whether to addresses a name ("@name") rather than a
// connection.
func isName(to string) bool { return strings.HasPrefix(to, wire.NamePrefix) }

// nameLost handles the gateway's notice that another connection took a
// name from this client (an exclusive claim): it is not claimed again on
// reconnection, and Options.OnNameLost hears of it.
func (c *Client) nameLost(name string) {
	c.subscriptionsMu.Lock()
	delete(c.names, name)
	c.subscriptionsMu.Unlock()
	if c.opts.OnNameLost == nil {
		c.log.Info("monologue: another connection took a name", "name", name)
		return
	}
	c.queueEvent(event{lostName: name})
}

// presenceEvent hands a joined or left event to Options.OnPresence.
func (c *Client) presenceEvent(e PresenceEvent) {
	if c.opts.OnPresence != nil {
		c.queueEvent(event{presence: &e})
	}
}
