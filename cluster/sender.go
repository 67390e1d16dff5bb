package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// sender is the relay's Sender on a node: its own connections through the
// gateway, others through the node that holds them.
type sender Node

var _ relay.Sender = (*sender)(nil)

// buffers holds the byte slices messages are encoded into.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Send delivers d. A deferrable delivery to a connection of another live
// node is handed to the node's pipeline and returns at once; its failure,
// if any, reaches the relay later through Undelivered (see pipeline.go),
// and a frame to d.From caused by its own later frames waits for it in the
// pipeline (Send returns at once, nil) and is delivered after it. Any
// other delivery to a connection of another node is a NATS request to that
// node, which answers as its gateway's Send did (gone, queue full, another
// tenant), so the relay answers the client exactly as on one node, and in
// order. It returns wire.ErrGone at once for a
// connection of a node that is dead, after a round trip for one of a node
// that no node answers for (one never issued), and ErrBackbone while this
// node cannot reach NATS or the other node does not answer within
// RequestTimeout. Just after this node's NATS connection comes back, a
// node that does not answer may not have come back yet: that is
// ErrBackbone, not gone.
func (s *sender) Send(ctx context.Context, d relay.Delivery) error {
	n := (*Node)(s)
	if d.From != "" && d.From != d.To {
		n.pipe.wait(ctx, d.From, true) // after the replies that wait for what its sender sent before
	}
	if n.isLocal(d.To) {
		if d.From == d.To && ctx.Value(resolvingKey{}) == nil {
			// A reply comes after the outcomes of what its connection sent.
			if n.pipe.later(d) {
				return nil
			}
			n.pipe.wait(ctx, d.From, false)
		}
		return n.local.Send(ctx, d)
	}
	tag, ok := wire.TagOf(d.To)
	if !ok {
		return goneError(d.To)
	}
	if err := n.unreachable(tag, d.To); err != nil {
		return err
	}
	if deferred, err := n.pipe.send(ctx, tag, d); deferred {
		return err
	}
	if d.From != "" {
		n.pipe.wait(ctx, d.From, false) // after the deferred deliveries its sender made before
	}
	bp := buffers.Get().(*[]byte)
	msg := appendDelivery((*bp)[:0], &delivery{to: d.To, tenant: d.Tenant, frame: d.Frame})
	answer, err := n.request(ctx, tag, d.To, n.deliverSubject(tag), msg)
	*bp = msg
	buffers.Put(bp)
	if err != nil {
		return fmt.Errorf("cluster: deliver through node %s: %w", tag, err)
	}
	_, err = parseAnswer(answer.Data)
	return err
}

// request makes a request about connectionID to its node, tag, and waits
// for the answer for RequestTimeout at most, or until the node is found
// gone: a node killed while the request was in flight never answers, and a
// request that finds no responder after it tells (one of another sender,
// or the check this request starts when it has waited listenCheck). The
// error matches wire.ErrGone when no node took the request or the node had
// said goodbye (its connections are closed), and ErrBackbone otherwise.
func (n *Node) request(ctx context.Context, tag wire.NodeTag, connectionID, subject string, data []byte) (*nats.Msg, error) {
	line := n.peers.lifeline(tag)
	defer n.peers.release(tag, line)
	caller := ctx
	ctx, cancel := context.WithTimeout(ctx, n.opts.RequestTimeout)
	defer cancel()
	defer context.AfterFunc(line, cancel)()
	defer time.AfterFunc(listenCheck, func() { n.checkListens(ctx, tag) }).Stop()
	answer, err := n.nc.RequestWithContext(ctx, subject, data)
	switch {
	case err == nil:
		if !n.peers.alive(tag) {
			n.peers.answered(tag)
		}
		return answer, nil
	case errors.Is(err, nats.ErrNoResponders):
		return nil, n.noResponders(tag, connectionID)
	case line.Err() != nil && line.left.Load():
		return nil, goneError(connectionID)
	case line.Err() != nil:
		return nil, fmt.Errorf("cluster: node %s went away with the request in flight: %w", tag, errLostInFlight)
	case errors.Is(err, context.DeadlineExceeded) && caller.Err() == nil: // not the caller's deadline: RequestTimeout's
		return nil, fmt.Errorf("cluster: node %s: %w", tag, errNoAnswer(n.opts.RequestTimeout))
	}
	return nil, errors.Join(ErrBackbone, err)
}

// listenCheck is how long a request waits for its answer (a round trip
// takes well under a millisecond) before it asks whether its node still
// listens, and how long each asking waits.
const listenCheck = 100 * time.Millisecond

// checkListens asks node tag, until ctx ends, whether it still listens. An
// answer says it does; a request that no node takes says it has gone, and
// cuts its lifeline; no answer (the node is dying, or slow) asks again.
func (n *Node) checkListens(ctx context.Context, tag wire.NodeTag) {
	for ctx.Err() == nil {
		ask, cancel := context.WithTimeout(ctx, listenCheck)
		_, err := n.nc.RequestWithContext(ask, n.manageSubject(tag), []byte{opPing})
		cancel()
		switch {
		case err == nil:
			return
		case errors.Is(err, nats.ErrNoResponders):
			if n.peers.settled() {
				n.peers.gone(tag)
			}
			return
		}
	}
}

// unreachable returns why a connection of node tag cannot be reached now,
// or nil: ErrBackbone while this node's NATS connection is down, gone when
// the node is dead. A node not heard of yet is asked all the same (it may
// have just started): the request tells.
func (n *Node) unreachable(tag wire.NodeTag, connectionID string) error {
	if !n.connected() {
		n.peers.markDeaf()
		return ErrBackbone
	}
	if n.peers.isDead(tag) {
		return goneError(connectionID)
	}
	return nil
}

// noResponders answers a request to node tag that no node took: the node
// has just gone; or, while this node may not have heard the others since
// its NATS connection came back, the node has not come back yet.
func (n *Node) noResponders(tag wire.NodeTag, connectionID string) error {
	if n.peers.settled() {
		n.peers.gone(tag)
		return goneError(connectionID)
	}
	return fmt.Errorf("cluster: node %s not reached since NATS came back: %w", tag, errNotBackYet)
}

// onDeliver hands a delivery from another node to the gateway, and answers
// with the outcome.
func (n *Node) onDeliver(m *nats.Msg) {
	d, err := parseDelivery(m.Data)
	if err == nil {
		err = n.local.Send(n.ctx, relay.Delivery{To: d.to, Tenant: d.tenant, Frame: d.frame})
	}
	var buf [64]byte
	_ = m.Respond(appendAnswer(buf[:0], err, nil))
}

func goneError(connectionID string) *wire.Error {
	return wire.NewError(wire.CodeGone, "no connection "+string(wire.AppendString(nil, connectionID)))
}
