package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/monologue-go/monologue/wire"
)

// reply sends data to the connection that caused ev. A reply to a
// connection that has gone is dropped: there is nobody left to tell.
func (r *Relay) reply(ctx context.Context, ev *Event, data []byte) error {
	connectionID := ev.ConnectionID
	err := r.opts.Sender.Send(ctx, Delivery{To: connectionID, Tenant: ev.Identity.Tenant, Frame: data, From: connectionID})
	if err == nil || errors.Is(err, wire.ErrGone) {
		return nil
	}
	if errors.Is(err, wire.ErrRateLimited) {
		r.log.DebugContext(ctx, "reply dropped: queue full", "connection", connectionID)
		return nil
	}
	return fmt.Errorf("relay: reply to %s: %w", connectionID, err)
}

// build builds a reply in a pooled buffer and sends it.
func (r *Relay) build(ctx context.Context, ev *Event, appendFrame func([]byte) []byte) error {
	bp := r.bufs.Get().(*[]byte)
	buf := appendFrame((*bp)[:0])
	err := r.reply(ctx, ev, buf)
	*bp = buf
	r.bufs.Put(bp)
	return err
}

// replyError answers the client of ev with an error frame for err. A
// *wire.Error keeps its code; anything else is reported as internal and
// returned. OnError counts the frame only once it was handed to the
// connection: an error frame dropped from a full queue was never seen.
func (r *Relay) replyError(ctx context.Context, ev *Event, err error, id []byte, to string) error {
	var werr *wire.Error
	var ret error
	if !errors.As(err, &werr) {
		werr = wire.NewError(wire.CodeInternal, "internal error")
		ret = err
		r.log.ErrorContext(ctx, "relay error", "connection", ev.ConnectionID, "err", err)
	}
	message := werr.Message
	if message == "" {
		message = string(werr.Code)
	}
	bp := r.bufs.Get().(*[]byte)
	frame := r.errorFrame((*bp)[:0], werr.Code, message, id, to)
	sendErr := r.opts.Sender.Send(ctx, Delivery{To: ev.ConnectionID, Tenant: ev.Identity.Tenant, Frame: frame, From: ev.ConnectionID})
	*bp = frame
	r.bufs.Put(bp)
	switch {
	case sendErr == nil:
		if r.opts.OnError != nil {
			r.opts.OnError(werr.Code)
		}
	case errors.Is(sendErr, wire.ErrGone):
	case errors.Is(sendErr, wire.ErrRateLimited):
		r.log.DebugContext(ctx, "error frame dropped: queue full", "connection", ev.ConnectionID, "code", werr.Code)
	case ret == nil:
		ret = fmt.Errorf("relay: reply to %s: %w", ev.ConnectionID, sendErr)
	}
	return ret
}

// errorFrame appends the error frame to b. When the message or the echoed
// fields, which quote what the client sent, make it too large to deliver,
// it answers all the same: with the bare code, then without "to", then
// without the id.
func (r *Relay) errorFrame(b []byte, code wire.Code, message string, id []byte, to string) []byte {
	frame := wire.AppendError(b, code, message, id, to)
	if len(frame) <= r.opts.MaxMessageSize {
		return frame
	}
	frame = wire.AppendError(frame[:0], code, string(code), id, to)
	if len(frame) > r.opts.MaxMessageSize {
		frame = wire.AppendError(frame[:0], code, string(code), id, "")
	}
	if len(frame) > r.opts.MaxMessageSize {
		frame = wire.AppendError(frame[:0], code, string(code), nil, "")
	}
	return frame
}
