package cluster

import (
	"errors"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
)

// Configure sets what a gateway needs to be this node: connection IDs with
// the node's tag, the management API's reach to other nodes, and an
// integration that runs the relay over the node's ports. The integration's
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

// Close leaves the cluster, then closes what the node ran on.
func (i *integration) Close() error {
	err := i.node.Close()
	for _, c := range i.closers {
		err = errors.Join(err, c())
	}
	return err
}
