package channels_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
	"github.com/monologue-go/monologue/wire"
)

func TestMemoryConformance(t *testing.T) {
	relaytest.TestChannels(t, func(*testing.T) relay.Channels { return channels.NewMemory(0) })
}

func TestMemoryLimitPerConnection(t *testing.T) {
	ctx := context.Background()
	m := channels.NewMemory(2)
	for _, ch := range []string{"a", "b", "a"} {
		if err := m.Subscribe(ctx, ch, "c1"); err != nil {
			t.Fatalf("Subscribe(%s): %v", ch, err)
		}
	}
	if err := m.Subscribe(ctx, "c", "c1"); !errors.Is(err, wire.ErrLimitExceeded) {
		t.Fatalf("third channel: err = %v, want limit_exceeded", err)
	}
	if _, err := m.DropConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len after drop = %d, want 0", n)
	}
}

// TestOnChannel: the store tells when a channel gains its first member and
// loses its last, whichever way it loses it, once each.
func TestOnChannel(t *testing.T) {
	var events []string
	m := channels.New(channels.Options{OnChannel: func(ch string, occupied bool) {
		if occupied {
			events = append(events, "+"+ch)
		} else {
			events = append(events, "-"+ch)
		}
	}})
	ctx := context.Background()
	for _, step := range []func() error{
		func() error { return m.Subscribe(ctx, "a", "c1") },
		func() error { return m.Subscribe(ctx, "a", "c2") },
		func() error { return m.Subscribe(ctx, "a", "c2") },
		func() error { return m.Subscribe(ctx, "b", "c1") },
		func() error { return m.Unsubscribe(ctx, "a", "c1") },
		func() error { return m.Unsubscribe(ctx, "a", "nobody") },
		func() error { return m.Unsubscribe(ctx, "zzz", "c1") },
		func() error { _, err := m.DropConnection(ctx, "c2"); return err },
		func() error { _, err := m.DropConnection(ctx, "c1"); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := strings.Join(events, " "), "+a +b -a -b"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}
