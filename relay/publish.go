package relay

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/monologue-go/monologue/wire"
)

// publish delivers payload to the subscribers of tenant's channel other than
// skip. from is stamped into the frame ("" for server broadcasts); replyTo,
// when not "", is told about a frame over the limit. Subscribers that have
// gone are unsubscribed; a subscriber whose queue is full misses this
// message (the Sender counts the drop) without holding up the others.
func (r *Relay) publish(ctx context.Context, replyTo, tenant, channel, from string, payload, id []byte) error {
	bp := r.bufs.Get().(*[]byte)
	buf := wire.AppendChannel((*bp)[:0], channel, from, payload)
	defer func() { *bp = buf; r.bufs.Put(bp) }()
	if len(buf) > r.opts.MaxMessageSize {
		if replyTo == "" {
			return tooLarge(r.opts.MaxMessageSize)
		}
		return r.replyError(ctx, replyTo, tooLarge(r.opts.MaxMessageSize), id, "")
	}
	key := channelKey(tenant, channel)
	var gone []string
	var mu sync.Mutex
	err := r.opts.Channels.Members(ctx, key, func(ids []string) error {
		g := r.fanout(ctx, ids, from, buf)
		mu.Lock()
		gone = append(gone, g...)
		mu.Unlock()
		return ctx.Err()
	})
	for _, id := range gone {
		if uerr := r.opts.Channels.Unsubscribe(ctx, key, id); uerr != nil {
			r.log.WarnContext(ctx, "drop stale subscription", "channel", channel, "connection", id, "err", uerr)
		}
	}
	if err != nil {
		err = fmt.Errorf("relay: publish to %q: %w", channel, err)
		if replyTo == "" {
			return err
		}
		return r.replyError(ctx, replyTo, err, id, "")
	}
	return nil
}

// fanout sends frame to ids except skip, with at most FanoutConcurrency
// sends at once, and returns the IDs that have gone.
func (r *Relay) fanout(ctx context.Context, ids []string, skip string, frame []byte) (gone []string) {
	send := func(id string) bool {
		err := r.opts.Sender.Send(ctx, id, frame)
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
