package relay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/monologue-go/monologue/wire"
)

// MaxListed bounds the connections a presence answer lists, and the
// holders of a name a message to it chooses from.
const MaxListed = 1000

var errNoNames = errors.New("relay: no Names store configured")

// claim serves claim: the connection holds the name; with exclusive, the
// other holders lose it and are told.
func (r *Relay) claim(ctx context.Context, ev *Event, frame *wire.Frame) error {
	if !wire.ValidName(frame.Name) {
		return r.replyError(ctx, ev, errBadName, frame.ID, "")
	}
	if r.opts.Names == nil {
		return r.replyError(ctx, ev, errNoNames, frame.ID, "")
	}
	key := qualified(ev.Identity.Tenant, frame.Name)
	released, err := r.opts.Names.Claim(ctx, Claim{Name: key, Label: frame.Name, Tenant: ev.Identity.Tenant, ConnectionID: ev.ConnectionID, Exclusive: frame.Exclusive})
	if err != nil {
		return r.replyError(ctx, ev, fmt.Errorf("relay: claim %q: %w", frame.Name, err), frame.ID, "")
	}
	for _, id := range released {
		r.tellReleased(ctx, ev.Identity.Tenant, frame.Name, id)
	}
	return r.build(ctx, ev, func(b []byte) []byte { return wire.AppendName(b, true, frame.Name, frame.ID) })
}

// tellReleased tells a connection that it lost name to a takeover.
func (r *Relay) tellReleased(ctx context.Context, tenant, name, connectionID string) {
	bp := r.bufs.Get().(*[]byte)
	buf := wire.AppendName((*bp)[:0], false, name, nil)
	err := r.opts.Sender.Send(ctx, Delivery{To: connectionID, Tenant: tenant, Frame: buf})
	*bp = buf
	r.bufs.Put(bp)
	if err != nil && !errors.Is(err, wire.ErrGone) {
		r.log.WarnContext(ctx, "tell a holder it lost its name", "connection", connectionID, "err", err)
	}
}

// release serves release.
func (r *Relay) release(ctx context.Context, ev *Event, frame *wire.Frame) error {
	if !wire.ValidName(frame.Name) {
		return r.replyError(ctx, ev, errBadName, frame.ID, "")
	}
	if r.opts.Names == nil {
		return r.replyError(ctx, ev, errNoNames, frame.ID, "")
	}
	if err := r.opts.Names.Release(ctx, qualified(ev.Identity.Tenant, frame.Name), ev.ConnectionID); err != nil {
		return r.replyError(ctx, ev, fmt.Errorf("relay: release %q: %w", frame.Name, err), frame.ID, "")
	}
	return r.build(ctx, ev, func(b []byte) []byte { return wire.AppendName(b, false, frame.Name, frame.ID) })
}

// toName delivers a direct message addressed "@name" to one of the name's
// holders, chosen at random; a holder that turns out gone is dropped and
// the next one tried. One read of the store, however many are tried.
func (r *Relay) toName(ctx context.Context, ev *Event, frame *wire.Frame, to string) error {
	name := to[len(wire.NamePrefix):]
	if !wire.ValidName(name) {
		return r.replyError(ctx, ev, errBadName, frame.ID, to)
	}
	if r.opts.Names == nil {
		return r.replyError(ctx, ev, errNoNames, frame.ID, to)
	}
	from := ev.ConnectionID
	key := qualified(ev.Identity.Tenant, name)
	holders, _, err := r.opts.Names.Holders(ctx, key, MaxListed)
	if err != nil {
		return r.replyError(ctx, ev, fmt.Errorf("relay: holders of %q: %w", name, err), frame.ID, to)
	}
	rand.Shuffle(len(holders), func(i, j int) { holders[i], holders[j] = holders[j], holders[i] })
	for _, holder := range holders {
		if wire.DirectSize(holder, from, frame.Payload)+len(`,"via":""`)+len(to) > r.opts.MaxMessageSize {
			return r.replyError(ctx, ev, tooLarge(r.opts.MaxMessageSize), frame.ID, to)
		}
		bp := r.bufs.Get().(*[]byte)
		buf := wire.AppendDirectVia((*bp)[:0], holder, from, to, frame.Payload)
		err := r.opts.Sender.Send(ctx, Delivery{To: holder, Tenant: ev.Identity.Tenant, Frame: buf, From: ev.ConnectionID})
		*bp = buf
		r.bufs.Put(bp)
		if err == nil {
			return nil
		}
		if !errors.Is(err, wire.ErrGone) {
			return r.replyError(ctx, ev, err, frame.ID, to)
		}
		if rerr := r.opts.Names.Release(ctx, key, holder); rerr != nil {
			r.log.WarnContext(ctx, "drop a gone holder", "name", name, "connection", holder, "err", rerr)
		}
	}
	return r.replyError(ctx, ev, wire.NewError(wire.CodeGone, "no holder of "+quote(to)), frame.ID, to)
}

// presence serves presence: who is in a channel, or holds a name.
func (r *Relay) presence(ctx context.Context, ev *Event, frame *wire.Frame) error {
	switch {
	case (frame.Channel == "") == (frame.Name == ""):
		return r.replyError(ctx, ev, wire.NewError(wire.CodeBadRequest, "presence takes a channel or a name"), frame.ID, "")
	case frame.Name != "":
		if !wire.ValidName(frame.Name) {
			return r.replyError(ctx, ev, errBadName, frame.ID, "")
		}
		if r.opts.Names == nil {
			return r.replyError(ctx, ev, errNoNames, frame.ID, "")
		}
		holders, count, err := r.opts.Names.Holders(ctx, qualified(ev.Identity.Tenant, frame.Name), MaxListed)
		if err != nil {
			return r.replyError(ctx, ev, fmt.Errorf("relay: holders of %q: %w", frame.Name, err), frame.ID, "")
		}
		return r.build(ctx, ev, func(b []byte) []byte {
			return wire.AppendPresence(b, true, frame.Name, count, holders, frame.ID)
		})
	}
	var members []string
	count := 0
	err := r.opts.Channels.Members(ctx, qualified(ev.Identity.Tenant, frame.Channel), func(ids []string) error {
		count += len(ids)
		if room := MaxListed - len(members); room > 0 {
			members = append(members, ids[:min(room, len(ids))]...)
		}
		return nil
	})
	if err != nil {
		return r.replyError(ctx, ev, fmt.Errorf("relay: members of %q: %w", frame.Channel, err), frame.ID, "")
	}
	return r.build(ctx, ev, func(b []byte) []byte {
		return wire.AppendPresence(b, false, frame.Channel, count, members, frame.ID)
	})
}

var errBadName = wire.NewError(wire.CodeBadRequest, "name must be 1 to 128 letters, digits or . _ - : /, starting with a letter or a digit")
