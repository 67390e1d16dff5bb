package relaytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Peer is a connection that a [SenderHarness] opened for the suite.
type Peer struct {
	// ID is the connection's ID, as a Sender addresses it.
	ID string
	// Tenant is the connection's tenant, as a Delivery names it.
	Tenant string
	// Next returns the next frame the connection received, and fails the
	// test when none arrives within a few seconds.
	Next func(t *testing.T) []byte
	// Close closes the connection and returns once its server side has
	// forgotten it, so that a send to it is gone.
	Close func(t *testing.T)
}

// SenderHarness is what [TestSender] needs of a Sender implementation: the
// Sender, and a way to open connections it can reach.
type SenderHarness struct {
	Sender relay.Sender
	// Connect opens a connection that reads everything it is sent. tenant
	// numbers the tenants the suite needs (0 and 1): connections opened
	// with the same number share a tenant.
	Connect func(t *testing.T, tenant int) Peer
	// Stall opens a connection of tenant 0 that never reads, so that what
	// is sent to it piles up until the Sender refuses more.
	Stall func(t *testing.T) Peer
	// MaxMessageSize is the largest frame the Sender delivers.
	MaxMessageSize int
	// Tenants is true when the Sender keeps tenants apart. A Sender that
	// does not need to (API Gateway's management API: an API is one tenant)
	// sets it false, and the tenant subtest checks only that a delivery
	// within tenant 0 arrives.
	Tenants bool
}

// sendTimeout bounds one Send: a Sender must never block on a slow receiver.
const sendTimeout = 5 * time.Second

// TestSender runs the Sender conformance suite. newHarness is called once
// per subtest.
func TestSender(t *testing.T, newHarness func(t *testing.T) SenderHarness) {
	t.Run("Delivers", func(t *testing.T) {
		h := newHarness(t)
		p := h.Connect(t, 0)
		for _, frame := range []string{`{"a":1}`, "hello", `"🏓"`} {
			mustSend(t, h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: []byte(frame)})
			if got := p.Next(t); string(got) != frame {
				t.Fatalf("received %q, want %q", got, frame)
			}
		}
	})
	t.Run("GoneNeverIssued", func(t *testing.T) {
		h := newHarness(t)
		err := send(h.Sender, relay.Delivery{To: "AAAAAAAAAAAAAAA=", Frame: []byte("x")})
		if !errors.Is(err, wire.ErrGone) {
			t.Fatalf("send to a never-issued ID: err = %v, want gone", err)
		}
	})
	t.Run("GoneAfterClose", func(t *testing.T) {
		h := newHarness(t)
		p := h.Connect(t, 0)
		p.Close(t)
		err := send(h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: []byte("x")})
		if !errors.Is(err, wire.ErrGone) {
			t.Fatalf("send to a closed connection: err = %v, want gone", err)
		}
	})
	t.Run("TooLarge", func(t *testing.T) {
		h := newHarness(t)
		p := h.Connect(t, 0)
		err := send(h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: filled(h.MaxMessageSize+1, 'x')})
		if !errors.Is(err, wire.ErrPayloadTooLarge) {
			t.Fatalf("send of limit+1 bytes: err = %v, want payload_too_large", err)
		}
		exact := filled(h.MaxMessageSize, 'y')
		mustSend(t, h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: exact})
		if got := p.Next(t); !bytes.Equal(got, exact) {
			t.Fatalf("frame of exactly the limit: received %d bytes, want %d", len(got), len(exact))
		}
	})
	t.Run("RateLimitedWhenStalled", func(t *testing.T) {
		h := newHarness(t)
		p := h.Stall(t)
		frame := filled(min(h.MaxMessageSize, 64<<10), 'z')
		// Enough to fill any sane queue plus the kernel's socket buffers;
		// each send must return promptly, and one must be refused.
		const most = 4096
		for i := range most {
			err := send(h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: frame})
			if errors.Is(err, wire.ErrRateLimited) {
				return
			}
			if err != nil {
				t.Fatalf("send %d to a stalled connection: %v, want nil or rate_limited", i, err)
			}
		}
		t.Fatalf("%d frames of %d bytes to a connection that never reads were all accepted", most, len(frame))
	})
	t.Run("DoesNotRetainFrame", func(t *testing.T) {
		h := newHarness(t)
		p := h.Connect(t, 0)
		const n = 200
		buf := make([]byte, 0, 64)
		for i := range n {
			buf = fmt.Appendf(buf[:0], `{"n":%d}`, i)
			mustSend(t, h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: buf})
			for j := range buf { // reuse the buffer at once, as the relay does
				buf[j] = '#'
			}
		}
		for i := range n {
			want := fmt.Sprintf(`{"n":%d}`, i)
			if got := p.Next(t); string(got) != want {
				t.Fatalf("frame %d: received %q, want %q (the Sender kept the caller's buffer)", i, got, want)
			}
		}
	})
	t.Run("ConcurrentSendersInOrder", func(t *testing.T) {
		h := newHarness(t)
		p := h.Connect(t, 0)
		const senders, each = 4, 50
		var wg sync.WaitGroup
		errs := make(chan error, senders*each)
		for s := range senders {
			wg.Go(func() {
				for i := range each {
					if err := send(h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: fmt.Appendf(nil, "%d:%d", s, i)}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent send: %v", err)
		}
		next := make([]int, senders)
		for range senders * each {
			var s, i int
			got := p.Next(t)
			if _, err := fmt.Sscanf(string(got), "%d:%d", &s, &i); err != nil || s < 0 || s >= senders {
				t.Fatalf("received %q, not a frame that was sent", got)
			}
			if i != next[s] {
				t.Fatalf("from sender %d: frame %d arrived where %d was due (order per sender lost)", s, i, next[s])
			}
			next[s]++
		}
	})
	t.Run("Tenants", func(t *testing.T) {
		h := newHarness(t)
		if !h.Tenants {
			p := h.Connect(t, 0)
			mustSend(t, h.Sender, relay.Delivery{To: p.ID, Tenant: p.Tenant, Frame: []byte("one tenant")})
			if got := p.Next(t); string(got) != "one tenant" {
				t.Fatalf("received %q", got)
			}
			return
		}
		a, b := h.Connect(t, 0), h.Connect(t, 1)
		if a.Tenant == b.Tenant {
			t.Fatalf("the harness put both connections in tenant %q", a.Tenant)
		}
		err := send(h.Sender, relay.Delivery{To: b.ID, Tenant: a.Tenant, Frame: []byte("crossed")})
		if !errors.Is(err, wire.ErrForbidden) {
			t.Fatalf("delivery across tenants: err = %v, want forbidden", err)
		}
		mustSend(t, h.Sender, relay.Delivery{To: b.ID, Tenant: b.Tenant, Frame: []byte("same tenant")})
		if got := b.Next(t); string(got) != "same tenant" {
			t.Fatalf("b received %q, want only the frame of its own tenant", got)
		}
		mustSend(t, h.Sender, relay.Delivery{To: a.ID, Tenant: a.Tenant, Frame: []byte("mine")})
		if got := a.Next(t); string(got) != "mine" {
			t.Fatalf("a received %q", got)
		}
	})
}

// send calls Sender.Send with a deadline, and fails if it blocks past it.
func send(s relay.Sender, d relay.Delivery) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Send(ctx, d) }()
	select {
	case err := <-done:
		return err
	case <-time.After(sendTimeout + time.Second):
		return fmt.Errorf("relaytest: Send to %s blocked for over %v", d.To, sendTimeout)
	}
}

func mustSend(t *testing.T, s relay.Sender, d relay.Delivery) {
	t.Helper()
	if err := send(s, d); err != nil {
		t.Fatalf("Send to %s: %v", d.To, err)
	}
}

func filled(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
