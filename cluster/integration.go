package cluster

import (
	"errors"
	"strings"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Configure sets what a gateway needs to be this node: connection IDs with
// the node's tag, the management API's reach to other nodes, an
// integration that runs the relay over the node's ports, and the node's
// metrics (monologue_cluster_*) beside the gateway's. The integration's
// Close, which the gateway's Shutdown calls after its last connection has
// gone, leaves the cluster and then calls each of closers (the NATS
// connection, the embedded server), in order.
func (n *Node) Configure(opts *gateway.Options, closers ...func() error) {
	opts.NewConnectionID = n.NewConnectionID
	opts.Remote = n
	opts.NewIntegration = func(gw *gateway.Gateway) (gateway.Integration, error) {
		ro := gw.RelayOptions()
		ro.Sender = n.Sender()
		ro.Channels = n.Channels()
		ro.Watchers = n.Watchers()
		ro.Names = n.Names()
		r := relay.New(ro)
		n.pipe.deferrer = r // before Attach: nothing is sent before
		if err := gw.RegisterMetrics(newMetrics(n)); err != nil {
			return nil, err
		}
		if err := n.Attach(gw); err != nil {
			return nil, err
		}
		return &integration{Relay: r, node: n, closers: closers}, nil
	}
}

// integration is the relay over a node's ports, closed with the node.
type integration struct {
	*relay.Relay
	node    *Node
	closers []func() error
}

var _ gateway.LoopIntegration = (*integration)(nil)

// Immediate reports whether the relay serves ev without waiting on another
// node, so that an event loop may serve it: a direct message to a
// connection of this node, of a live node (handed on without waiting), of
// a dead one (gone) or while NATS is away (internal); a publication; and
// whatever is answered to its sender alone (whoami, send, loopback, a
// frame that does not parse). Names, presence and subscriptions ask other
// nodes, and so does a message to a node not heard of yet; a connection
// whose replies wait for its deliveries' reports (see pipeline.later)
// waits before it sends anything more. Those go to a goroutine.
func (i *integration) Immediate(ev *relay.Event) bool {
	n := i.node
	if ev.Route == wire.RouteConnect {
		return true
	}
	if n.pipe.pending(ev.ConnectionID) {
		return false
	}
	f := ev.Frame
	if f == nil || f.Whoami {
		return true
	}
	switch f.Action {
	case "", wire.ActionSendMessage:
		return n.reachableNow(f.To)
	case wire.ActionLoopback, wire.ActionSend, wire.ActionPublish:
		return true
	}
	return false
}

// reachableNow reports whether a direct message to "to" is sent, or
// refused, without waiting for another node's answer.
func (n *Node) reachableNow(to string) bool {
	if to == "" || n.isLocal(to) {
		return true
	}
	if strings.HasPrefix(to, wire.NamePrefix) {
		return false
	}
	tag, ok := wire.TagOf(to)
	if !ok || !n.connected() {
		return true
	}
	return n.peers.alive(tag) || n.peers.isDead(tag)
}

// Close leaves the cluster, then closes what the node ran on.
func (i *integration) Close() error {
	err := i.node.Close()
	for _, c := range i.closers {
		err = errors.Join(err, c())
	}
	return err
}
