package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/wire"
)

// The introspection API of any node lists the connections, channels and
// nodes of every node: the node that serves the request puts the same
// question to each other live node (a management request of operation
// opIntrospect, in parallel, each bounded by RequestTimeout) and merges
// the answers with its own.

var _ gateway.Cluster = (*Node)(nil)

// introspector is what a gateway that answers the introspection API's
// questions has; *gateway.Gateway does.
type introspector interface {
	Introspect(ctx context.Context, query []byte) ([]byte, error)
}

// NodeName returns the node's tag, its name in the cluster.
func (n *Node) NodeName() string { return n.tag.String() }

// Gather puts query to every other live node and returns each one's answer
// (from its gateway's Introspect), within RequestTimeout. A node that does
// not answer in time, or answers with an error, has Err set; while this
// node cannot reach NATS every other node it knows has ErrBackbone.
func (n *Node) Gather(ctx context.Context, query []byte) []gateway.NodeAnswer {
	var tags []wire.NodeTag
	n.peers.mu.RLock()
	for t, p := range n.peers.seen {
		if t != n.tag && time.Since(p.at) < n.peers.deadAfter {
			tags = append(tags, t)
		}
	}
	n.peers.mu.RUnlock()
	slices.SortFunc(tags, func(a, b wire.NodeTag) int { return strings.Compare(a.String(), b.String()) })
	answers := make([]gateway.NodeAnswer, len(tags))
	if !n.connected() {
		for i, t := range tags {
			answers[i] = gateway.NodeAnswer{Node: t.String(), Err: ErrBackbone}
		}
		return answers
	}
	req := appendField([]byte{opIntrospect}, nil)
	req = append(req, query...)
	ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, t := range tags {
		wg.Go(func() {
			answers[i] = gateway.NodeAnswer{Node: t.String()}
			msg, err := n.nc.RequestWithContext(ctx, n.manageSubject(t), req)
			switch {
			case errors.Is(err, nats.ErrNoResponders):
				answers[i].Err = fmt.Errorf("cluster: node %s has gone", t)
			case err != nil:
				answers[i].Err = fmt.Errorf("cluster: node %s did not answer: %w", t, err)
			default:
				answers[i].Answer, answers[i].Err = parseAnswer(msg.Data)
			}
		})
	}
	wg.Wait()
	return answers
}

// introspect answers another node's question with the local gateway.
func (n *Node) introspect(query []byte) ([]byte, error) {
	in, ok := n.local.(introspector)
	if !ok {
		return nil, wire.NewError(wire.CodeBadRequest, "this node does not answer introspection queries")
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.RequestTimeout)
	defer cancel()
	return in.Introspect(ctx, query)
}

// The channel store of a node shows its local memberships to the
// introspection API (gateway.ChannelView) through the node's integration.

var _ gateway.ChannelView = (*integration)(nil)

// EachChannel calls fn with every channel that has members on this node.
func (i *integration) EachChannel(fn func(key string, members int)) {
	i.node.channels.mem.EachChannel(fn)
}

// JoinedCount returns how many channels a local connection has joined.
func (i *integration) JoinedCount(connectionID string) int {
	return i.node.channels.mem.JoinedCount(connectionID)
}

// Joined returns the channels a local connection has joined.
func (i *integration) Joined(connectionID string) []string {
	return i.node.channels.mem.Joined(connectionID)
}

// Members hands a channel's local members to fn.
func (i *integration) Members(ctx context.Context, key string, fn func([]string) error) error {
	return i.node.channels.mem.Members(ctx, key, fn)
}

var _ gateway.NameView = (*integration)(nil)

// EachName calls fn with every name that local connections hold.
func (i *integration) EachName(fn func(key string, holders int)) { i.node.names.EachName(fn) }

// NamesOf returns the names a local connection holds.
func (i *integration) NamesOf(connectionID string) []string {
	return i.node.names.NamesOf(connectionID)
}

// Holders returns the local connections that hold a name.
func (i *integration) Holders(key string) []string { return i.node.names.HoldersOf(key) }
