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
	err := r.opts.Sender.Send(ctx, Delivery{To: connectionID, Tenant: ev.Identity.Tenant, Frame: data})
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
// returned.
func (r *Relay) replyError(ctx context.Context, ev *Event, err error, id []byte, to string) error {
	var werr *wire.Error
	var ret error
	if !errors.As(err, &werr) {
		werr = wire.NewError(wire.CodeInternal, "internal error")
		ret = err
		r.log.ErrorContext(ctx, "relay error", "connection", ev.ConnectionID, "err", err)
	}
	if r.opts.OnError != nil {
		r.opts.OnError(werr.Code)
	}
	message := werr.Message
	if message == "" {
		message = string(werr.Code)
	}
	if sendErr := r.build(ctx, ev, func(b []byte) []byte {
		frame := wire.AppendError(b, werr.Code, message, id, to)
		if len(frame) <= r.opts.MaxMessageSize {
			return frame
		}
		// The message or the echoed fields quote what the client sent and
		// make the frame too large to deliver: answer all the same, with
		// the bare code, then without "to", then without the id.
		frame = wire.AppendError(b[:0], werr.Code, string(werr.Code), id, to)
		if len(frame) > r.opts.MaxMessageSize {
			frame = wire.AppendError(frame[:0], werr.Code, string(werr.Code), id, "")
		}
		if len(frame) > r.opts.MaxMessageSize {
			frame = wire.AppendError(frame[:0], werr.Code, string(werr.Code), nil, "")
		}
		return frame
	}); sendErr != nil && ret == nil {
		ret = sendErr
	}
	return ret
}
