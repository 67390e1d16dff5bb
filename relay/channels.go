package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/monologue-go/monologue/wire"
)

// subscription serves subscribe and unsubscribe.
func (r *Relay) subscription(ctx context.Context, ev *Event, frame *wire.Frame) error {
	if frame.Channel == "" {
		return r.replyError(ctx, ev, wire.NewError(wire.CodeBadRequest, "missing channel"), frame.ID, "")
	}
	key := channelKey(ev.Identity.Tenant, frame.Channel)
	subscribe := frame.Action == wire.ActionSubscribe
	var err error
	if subscribe {
		err = r.opts.Channels.Subscribe(ctx, key, ev.ConnectionID)
	} else {
		err = r.opts.Channels.Unsubscribe(ctx, key, ev.ConnectionID)
	}
	if err != nil {
		return r.replyError(ctx, ev, fmt.Errorf("relay: %s %q: %w", frame.Action, frame.Channel, err), frame.ID, "")
	}
	return r.build(ctx, ev, func(b []byte) []byte {
		return wire.AppendSubscription(b, subscribe, frame.Channel, frame.ID)
	})
}

// publishFrame serves publish: every other subscriber receives the payload.
func (r *Relay) publishFrame(ctx context.Context, ev *Event, frame *wire.Frame) error {
	if frame.Channel == "" {
		return r.replyError(ctx, ev, wire.NewError(wire.CodeBadRequest, "missing channel"), frame.ID, "")
	}
	return r.publish(ctx, ev, ev.Identity.Tenant, frame.Channel, ev.ConnectionID, frame.Payload, frame.ID)
}

// Broadcast delivers payload to every subscriber of tenant's channel as
// {"channel":C,"payload":P}, as the HTTP publish endpoint does. It returns
// an error matching wire.ErrPayloadTooLarge when the frame is over the limit.
func (r *Relay) Broadcast(ctx context.Context, tenant, channel string, payload []byte) error {
	if channel == "" || len(channel) > wire.MaxChannelLength {
		return wire.NewError(wire.CodeBadRequest, "channel must be 1 to 256 bytes")
	}
	return r.publish(ctx, nil, tenant, channel, "", payload, nil)
}

// publish delivers payload to the subscribers of tenant's channel other than
// from, which is stamped into the frame ("" for server broadcasts). replyTo,
// when not nil, is the publishing event, told about a frame over the limit
// and a failure of the store; with no replyTo these are returned.
//
// With a store that is a [ChannelPublisher], the store delivers. Otherwise
// the relay sends to each member: subscribers that have gone are
// unsubscribed; a subscriber whose queue is full misses this message (the
// Sender counts the drop) without holding up the others.
func (r *Relay) publish(ctx context.Context, replyTo *Event, tenant, channel, from string, payload, id []byte) error {
	bp := r.bufs.Get().(*[]byte)
	buf := wire.AppendChannel((*bp)[:0], channel, from, payload)
	defer func() { *bp = buf; r.bufs.Put(bp) }()
	if len(buf) > r.opts.MaxMessageSize {
		if replyTo == nil {
			return tooLarge(r.opts.MaxMessageSize)
		}
		return r.replyError(ctx, replyTo, tooLarge(r.opts.MaxMessageSize), id, "")
	}
	key := channelKey(tenant, channel)
	var err error
	if p, ok := r.opts.Channels.(ChannelPublisher); ok {
		err = p.Publish(ctx, Publication{Channel: key, Tenant: tenant, Skip: from, Frame: buf})
	} else {
		err = r.sendToMembers(ctx, key, tenant, from, buf)
	}
	if err != nil {
		err = fmt.Errorf("relay: publish to %q: %w", channel, err)
		if replyTo == nil {
			return err
		}
		return r.replyError(ctx, replyTo, err, id, "")
	}
	return nil
}

// sendToMembers reads the members of the store's channel key and sends
// frame to each but skip, then unsubscribes those that have gone.
func (r *Relay) sendToMembers(ctx context.Context, key, tenant, skip string, frame []byte) error {
	var gone []string
	var mu sync.Mutex
	err := r.opts.Channels.Members(ctx, key, func(ids []string) error {
		g := r.fanout(ctx, ids, tenant, skip, frame)
		mu.Lock()
		gone = append(gone, g...)
		mu.Unlock()
		return ctx.Err()
	})
	for _, id := range gone {
		if uerr := r.opts.Channels.Unsubscribe(ctx, key, id); uerr != nil {
			r.log.WarnContext(ctx, "drop stale subscription", "channel", key, "connection", id, "err", uerr)
		}
	}
	return err
}

// fanout sends frame to ids except skip, with at most FanoutConcurrency
// sends at once, and returns the IDs that have gone.
func (r *Relay) fanout(ctx context.Context, ids []string, tenant, skip string, frame []byte) (gone []string) {
	send := func(id string) bool {
		err := r.opts.Sender.Send(ctx, Delivery{To: id, Tenant: tenant, Frame: frame})
		if err != nil && errors.Is(err, wire.ErrGone) {
			return true
		}
		if err != nil && !errors.Is(err, wire.ErrRateLimited) {
			r.log.WarnContext(ctx, "publish delivery failed", "connection", id, "err", err)
		}
		return false
	}
	if r.opts.FanoutConcurrency == 1 || len(ids) <= 1 {
		for _, id := range ids {
			if id != skip && send(id) {
				gone = append(gone, id)
			}
		}
		return gone
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, r.opts.FanoutConcurrency)
	for _, id := range ids {
		if id == skip {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if send(id) {
				mu.Lock()
				gone = append(gone, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return gone
}
