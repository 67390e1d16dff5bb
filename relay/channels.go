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
	key := qualified(ev.Identity.Tenant, frame.Channel)
	subscribe := frame.Action == wire.ActionSubscribe
	if subscribe && frame.Presence && r.opts.Watchers == nil {
		return r.replyError(ctx, ev, errors.New("relay: no Watchers store configured"), frame.ID, "")
	}
	var err error
	if subscribe {
		err = r.opts.Channels.Subscribe(ctx, key, ev.ConnectionID)
		if err == nil && frame.Presence {
			err = r.opts.Watchers.Subscribe(ctx, key, ev.ConnectionID)
		}
	} else {
		err = r.opts.Channels.Unsubscribe(ctx, key, ev.ConnectionID)
		if err == nil && r.opts.Watchers != nil {
			err = r.opts.Watchers.Unsubscribe(ctx, key, ev.ConnectionID)
		}
	}
	if err != nil {
		return r.replyError(ctx, ev, fmt.Errorf("relay: %s %q: %w", frame.Action, frame.Channel, err), frame.ID, "")
	}
	if r.opts.Watchers != nil {
		r.presenceEvent(ctx, ev.Identity.Tenant, key, ev.ConnectionID, subscribe)
	}
	return r.build(ctx, ev, func(b []byte) []byte {
		return wire.AppendSubscription(b, subscribe, frame.Channel, frame.ID)
	})
}

// presenceEvent tells the watchers of the store's channel key, but member
// itself, that member joined or left it.
func (r *Relay) presenceEvent(ctx context.Context, tenant, key, member string, joined bool) {
	channel := key
	if tenant != "" {
		channel = key[len(tenant)+1:]
	}
	bp := r.bufs.Get().(*[]byte)
	buf := wire.AppendPresenceEvent((*bp)[:0], channel, joined, member)
	p := Publication{Channel: key, Tenant: tenant, Skip: member, Frame: buf, Member: member, Joined: joined, Name: channel}
	err := r.deliverAll(ctx, r.opts.Watchers, p)
	*bp = buf
	r.bufs.Put(bp)
	if err != nil {
		r.log.WarnContext(ctx, "presence event not delivered", "channel", channel, "err", err)
	}
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
	err := r.deliverAll(ctx, r.opts.Channels, Publication{Channel: qualified(tenant, channel), Tenant: tenant, Skip: from, Frame: buf, Name: channel})
	if err != nil {
		err = fmt.Errorf("relay: publish to %q: %w", channel, err)
		if replyTo == nil {
			return err
		}
		return r.replyError(ctx, replyTo, err, id, "")
	}
	return nil
}

// deliverAll hands p to the store when it publishes itself; otherwise it
// reads the members of p's channel and sends the frame to each but p.Skip,
// then unsubscribes those that have gone.
func (r *Relay) deliverAll(ctx context.Context, store Channels, p Publication) error {
	if publisher, ok := store.(ChannelPublisher); ok {
		return publisher.Publish(ctx, p)
	}
	var gone []string
	var mu sync.Mutex
	err := store.Members(ctx, p.Channel, func(ids []string) error {
		g := r.fanout(ctx, ids, p.Tenant, p.Skip, p.Frame)
		mu.Lock()
		gone = append(gone, g...)
		mu.Unlock()
		return ctx.Err()
	})
	for _, id := range gone {
		if uerr := store.Unsubscribe(ctx, p.Channel, id); uerr != nil {
			r.log.WarnContext(ctx, "drop stale subscription", "channel", p.Channel, "connection", id, "err", uerr)
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
