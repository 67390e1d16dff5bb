package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
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
//
// A node has two: one of memberships (subjects "…c.CHANNEL") and one of
// presence subscriptions (watchers, "…w.CHANNEL"). The watchers' store also
// remembers, for each channel its connections watch, the members that other
// nodes hold (from a roll call when it starts watching, then from the
// joined and left events), so that when a node dies it can tell its
// watchers that the dead node's members left.
type Channels struct {
	node *Node
	kind string // "c." or "w."
	mem  *channels.Memory

	mu      sync.Mutex
	subs    map[string]*nats.Subscription // channel -> interest
	ready   map[string]chan struct{}      // channel -> closed once the others know of the interest
	cutting map[string]chan struct{}      // channel -> its ready, while publications made before the interest are still arriving
	watched map[string]*watched           // watchers' store: channel -> members elsewhere
}

// watched is what a watchers' store knows of a channel it watches.
type watched struct {
	label, tenant string          // the channel's name and tenant, for events
	remote        map[string]bool // members held by other nodes
}

var (
	_ relay.Channels         = (*Channels)(nil)
	_ relay.ChannelPublisher = (*Channels)(nil)
)

func newChannels(n *Node, kind string, maxPerConnection int) *Channels {
	c := &Channels{node: n, kind: kind, subs: make(map[string]*nats.Subscription),
		ready: make(map[string]chan struct{}), cutting: make(map[string]chan struct{}), watched: make(map[string]*watched)}
	c.mem = channels.New(channels.Options{MaxPerConnection: maxPerConnection, OnChannel: c.interest})
	return c
}

// subjectMembers is where a node asks the others for their members of a
// channel.
const subjectMembers = "members"

// start answers the other nodes' questions about local members.
func (c *Channels) start() error {
	sub, err := c.node.nc.Subscribe(c.node.prefix+subjectMembers, func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		var ids []string
		_ = c.mem.Members(c.node.ctx, string(m.Data), func(page []string) error {
			ids = append(ids, page...)
			return nil
		})
		data, _ := json.Marshal(ids)
		_ = m.Respond(data)
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe to member lists: %w", err)
	}
	c.node.subs = append(c.node.subs, sub)
	return nil
}

// channelSubject is the subject of a channel: its name, base64url-encoded,
// is one token of letters, digits, '-' and '_', whatever the name holds.
func (c *Channels) channelSubject(channel string) string {
	return c.node.prefix + c.kind + base64.RawURLEncoding.EncodeToString([]byte(channel))
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
		delete(c.cutting, channel)
		delete(c.watched, channel)
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
	c.cutting[channel] = ready
	if c.kind == "w." {
		c.watched[channel] = &watched{remote: make(map[string]bool)}
	}
	go func() {
		c.node.runCut(func() {
			c.mu.Lock()
			if c.cutting[channel] == ready {
				delete(c.cutting, channel)
			}
			c.mu.Unlock()
		})
		if c.kind == "w." {
			c.learnRemoteMembers(channel)
		}
		close(ready)
	}()
}

// learnRemoteMembers asks the other nodes who they hold in a channel that
// this node has just begun to watch.
func (c *Channels) learnRemoteMembers(channel string) {
	want := c.node.peers.count()
	if want == 0 {
		return
	}
	c.node.gather(c.node.ctx, subjectMembers, []byte(channel), want, c.node.opts.RequestTimeout, func(m *nats.Msg) {
		var ids []string
		if json.Unmarshal(m.Data, &ids) != nil {
			return
		}
		c.mu.Lock()
		if w := c.watched[channel]; w != nil {
			for _, id := range ids {
				w.remote[id] = true
			}
		}
		c.mu.Unlock()
	})
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

// Members lists the channel's members on every live node: this node's,
// then those the others answer with (within RequestTimeout).
func (c *Channels) Members(ctx context.Context, channel string, fn func([]string) error) error {
	if err := c.mem.Members(ctx, channel, fn); err != nil {
		return err
	}
	want := c.node.peers.count()
	if want == 0 || c.kind != "c." {
		return nil
	}
	if !c.node.connected() {
		return ErrBackbone
	}
	var err error
	c.node.gather(ctx, subjectMembers, []byte(channel), want, c.node.opts.RequestTimeout, func(m *nats.Msg) {
		var ids []string
		if err == nil && json.Unmarshal(m.Data, &ids) == nil && len(ids) > 0 {
			err = fn(ids)
		}
	})
	return err
}

// DropConnection removes a local connection from every channel.
func (c *Channels) DropConnection(ctx context.Context, connectionID string) ([]string, error) {
	if c.kind == "c." {
		c.node.pipe.forget(connectionID) // the relay drops every connection's subscriptions as it closes
	}
	return c.mem.DropConnection(ctx, connectionID)
}

// Publish delivers p to the local members, then sends it once to the
// channel's subject for the other nodes. While NATS is away the local
// members still get it, and the publisher is told internal.
func (c *Channels) Publish(ctx context.Context, p relay.Publication) error {
	if p.Member != "" {
		c.mu.Lock()
		if w := c.watched[p.Channel]; w != nil {
			w.label, w.tenant = p.Name, p.Tenant
		}
		c.mu.Unlock()
	}
	c.fanOutLocal(ctx, p.Channel, p.Tenant, p.Skip, p.Frame)
	if !c.node.connected() {
		return ErrBackbone
	}
	bp := buffers.Get().(*[]byte)
	msg := appendPublication((*bp)[:0], &publication{skip: p.Skip, tenant: p.Tenant, member: p.Member, label: p.Name, joined: p.Joined, frame: p.Frame})
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
	token := subject[len(c.node.prefix)+len(c.kind):]
	channel, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return
	}
	p, err := parsePublication(data)
	if err != nil {
		c.node.log.Warn("malformed publication from another node", "err", err)
		return
	}
	c.mu.Lock()
	if p.member != "" {
		if w := c.watched[string(channel)]; w != nil {
			w.label, w.tenant = p.label, p.tenant
			if p.joined {
				w.remote[p.member] = true
			} else {
				delete(w.remote, p.member)
			}
		}
	}
	early := c.cutting[string(channel)] != nil
	c.mu.Unlock()
	if early {
		return // made before this node's interest: its members subscribed after it
	}
	c.fanOutLocal(c.node.ctx, string(channel), p.tenant, p.skip, p.frame)
}

// forgetNode tells the local watchers of each channel that the members a
// dead node held there left.
func (c *Channels) forgetNode(t wire.NodeTag) {
	prefix := t.Prefix()
	type event struct {
		channel, tenant string
		frame           []byte
	}
	var events []event
	c.mu.Lock()
	for channel, w := range c.watched {
		for id := range w.remote {
			if strings.HasPrefix(id, prefix) {
				delete(w.remote, id)
				events = append(events, event{channel, w.tenant, wire.AppendPresenceEvent(nil, w.label, false, id)})
			}
		}
	}
	c.mu.Unlock()
	for _, ev := range events {
		c.fanOutLocal(c.node.ctx, ev.channel, ev.tenant, "", ev.frame)
	}
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
