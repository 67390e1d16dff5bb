package relay

import (
	"context"
	"errors"
	"strings"

	"github.com/monologue-go/monologue/wire"
)

// sendMessage serves sendmessage and $default: a message to frame.To.
func (r *Relay) sendMessage(ctx context.Context, ev *Event, frame *wire.Frame) error {
	if frame.To == "" {
		return r.replyError(ctx, ev, wire.NewError(wire.CodeBadRequest, "missing to"), frame.ID, "")
	}
	if strings.HasPrefix(frame.To, wire.NamePrefix) {
		return r.toName(ctx, ev, frame, frame.To)
	}
	return r.direct(ctx, ev, frame, frame.To)
}

// loopback serves loopback: a message to the sender itself.
func (r *Relay) loopback(ctx context.Context, ev *Event, frame *wire.Frame) error {
	return r.direct(ctx, ev, frame, ev.ConnectionID)
}

// echo serves send: the message comes back, or a pong without one.
func (r *Relay) echo(ctx context.Context, ev *Event, frame *wire.Frame) error {
	return r.build(ctx, ev, func(b []byte) []byte { return wire.AppendSendReply(b, frame.Message) })
}

// direct delivers a message from ev's connection to "to". The tenant check
// is the Sender's: only the side that holds "to" knows its tenant.
func (r *Relay) direct(ctx context.Context, ev *Event, frame *wire.Frame, to string) error {
	from := ev.ConnectionID
	if wire.DirectSize(to, from, frame.Payload) > r.opts.MaxMessageSize {
		return r.replyError(ctx, ev, tooLarge(r.opts.MaxMessageSize), frame.ID, to)
	}
	bp := r.bufs.Get().(*[]byte)
	buf := wire.AppendDirect((*bp)[:0], to, from, frame.Payload)
	err := r.opts.Sender.Send(ctx, Delivery{To: to, Tenant: ev.Identity.Tenant, Frame: buf,
		From: from, ID: frame.ID, Deferrable: to != from})
	*bp = buf
	r.bufs.Put(bp)
	if err == nil {
		return nil
	}
	return r.undelivered(ctx, ev, err, frame.ID, to)
}

var _ Deferrer = (*Relay)(nil)

// undelivered answers ev's client about a direct message to "to" that
// failed with err.
func (r *Relay) undelivered(ctx context.Context, ev *Event, err error, id []byte, to string) error {
	if errors.Is(err, wire.ErrGone) {
		err = wire.NewError(wire.CodeGone, "no connection "+quote(to))
	}
	return r.replyError(ctx, ev, err, id, to)
}

// Undelivered answers d.From about the deferred delivery d, which failed
// with err, with the error frame it would have had at once.
func (r *Relay) Undelivered(ctx context.Context, d Delivery, err error) {
	ev := Event{ConnectionID: d.From, Identity: Identity{Tenant: d.Tenant}}
	if rerr := r.undelivered(ctx, &ev, err, d.ID, d.To); rerr != nil {
		r.log.ErrorContext(ctx, "relay: answer a deferred delivery", "connection", d.From, "err", rerr)
	}
}
