package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Channels is a node's channel store: the memberships of its own
// connections, kept in memory, and an interest in each channel's subject
// while it has local members. A publication goes to local members directly
// and to the channel's subject once, for the nodes with members there.
type Channels struct {
	node *Node
	mem  *channels.Memory

	mu    sync.Mutex
	subs  map[string]*nats.Subscription // channel -> interest
	ready map[string]chan struct{}      // channel -> closed once the others know of the interest
}

var (
	_ relay.Channels         = (*Channels)(nil)
	_ relay.ChannelPublisher = (*Channels)(nil)
)

func newChannels(n *Node, maxPerConnection int) *Channels {
	c := &Channels{node: n, subs: make(map[string]*nats.Subscription), ready: make(map[string]chan struct{})}
	c.mem = channels.New(channels.Options{MaxPerConnection: maxPerConnection, OnChannel: c.interest})
	return c
}

// channelSubject is the subject of a channel: its name, base64url-encoded,
// is one token of letters, digits, '-' and '_', whatever the name holds.
func (c *Channels) channelSubject(channel string) string {
	return c.node.prefix + "c." + base64.RawURLEncoding.EncodeToString([]byte(channel))
}

// interest takes or drops the node's interest in a channel as it gains its
// first local member or loses its last. The memory store calls it under its
// lock, in order, so interests never race; NATS calls return at once.
func (c *Channels) interest(channel string, occupied bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !occupied {
		if sub := c.subs[channel]; sub != nil {
			_ = sub.Unsubscribe()
			delete(c.subs, channel)
		}
		delete(c.ready, channel)
		return
	}
	sub, err := c.node.nc.ChanSubscribe(c.channelSubject(channel), c.node.inbound)
	if err != nil {
		c.node.log.Error("take an interest in a channel", "err", err)
		return
	}
	c.subs[channel] = sub
	ready := make(chan struct{})
	c.ready[channel] = ready
	go func() {
		c.node.barrier(c.node.ctx)
		close(ready)
	}()
}

// Subscribe adds a local connection to channel, and returns once the other
// nodes know that this node has members there, so that a publication from
// any node made after the "subscribed" reply reaches the new member.
func (c *Channels) Subscribe(ctx context.Context, channel, connectionID string) error {
	if err := c.mem.Subscribe(ctx, channel, connectionID); err != nil {
		return err
	}
	c.mu.Lock()
	ready := c.ready[channel]
	c.mu.Unlock()
	if ready != nil {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Unsubscribe removes a local connection from channel.
func (c *Channels) Unsubscribe(ctx context.Context, channel, connectionID string) error {
	return c.mem.Unsubscribe(ctx, channel, connectionID)
}

// Members lists the channel's local members only: what other nodes hold
// is theirs to list.
func (c *Channels) Members(ctx context.Context, channel string, fn func([]string) error) error {
	return c.mem.Members(ctx, channel, fn)
}

// DropConnection removes a local connection from every channel.
func (c *Channels) DropConnection(ctx context.Context, connectionID string) error {
	return c.mem.DropConnection(ctx, connectionID)
}

// Publish delivers p to the local members, then sends it once to the
// channel's subject for the other nodes. While NATS is away the local
// members still get it, and the publisher is told internal.
func (c *Channels) Publish(ctx context.Context, p relay.Publication) error {
	c.fanOutLocal(ctx, p.Channel, p.Tenant, p.Skip, p.Frame)
	if !c.node.connected() {
		return ErrBackbone
	}
	bp := buffers.Get().(*[]byte)
	msg := appendPublication((*bp)[:0], &publication{skip: p.Skip, tenant: p.Tenant, frame: p.Frame})
	err := c.node.nc.Publish(c.channelSubject(p.Channel), msg)
	*bp = msg
	buffers.Put(bp)
	if err != nil {
		return fmt.Errorf("cluster: publish to %q: %w", p.Channel, errors.Join(ErrBackbone, err))
	}
	return nil
}

// fanOut delivers a publication from another node to the local members of
// the channel whose subject it came on.
func (c *Channels) fanOut(subject string, data []byte) {
	token := subject[len(c.node.prefix)+len("c."):]
	channel, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return
	}
	p, err := parsePublication(data)
	if err != nil {
		c.node.log.Warn("malformed publication from another node", "err", err)
		return
	}
	c.fanOutLocal(c.node.ctx, string(channel), p.tenant, p.skip, p.frame)
}

// fanOutLocal sends frame to the local members of channel but skip, and
// drops those that have gone.
func (c *Channels) fanOutLocal(ctx context.Context, channel, tenant, skip string, frame []byte) {
	var gone []string
	_ = c.mem.Members(ctx, channel, func(ids []string) error {
		for _, id := range ids {
			if id == skip {
				continue
			}
			err := c.node.local.Send(ctx, relay.Delivery{To: id, Tenant: tenant, Frame: frame})
			if errors.Is(err, wire.ErrGone) {
				gone = append(gone, id)
			}
		}
		return nil
	})
	for _, id := range gone {
		_ = c.mem.Unsubscribe(ctx, channel, id)
	}
}
