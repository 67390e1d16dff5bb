package relaytest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// members collects every member of channel.
func members(t *testing.T, s relay.Channels, channel string) []string {
	t.Helper()
	var all []string
	err := s.Members(context.Background(), channel, func(ids []string) error {
		all = append(all, ids...)
		return nil
	})
	if err != nil {
		t.Fatalf("Members(%q): %v", channel, err)
	}
	slices.Sort(all)
	return all
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestChannels runs the Channels conformance suite. newStore must return an
// empty store each time it is called; channel names are made unique per
// subtest, so a shared backing table is fine.
func TestChannels(t *testing.T, newStore func(t *testing.T) relay.Channels) {
	ctx := context.Background()
	t.Run("SubscribeMembers", func(t *testing.T) {
		s := newStore(t)
		ch := uniq(t, "a")
		must(t, s.Subscribe(ctx, ch, "c1"))
		must(t, s.Subscribe(ctx, ch, "c2"))
		must(t, s.Subscribe(ctx, ch, "c2")) // twice is fine
		if got := members(t, s, ch); !slices.Equal(got, []string{"c1", "c2"}) {
			t.Fatalf("members = %v, want [c1 c2]", got)
		}
		if got := members(t, s, uniq(t, "empty")); len(got) != 0 {
			t.Fatalf("members of unknown channel = %v, want none", got)
		}
	})
	t.Run("Unsubscribe", func(t *testing.T) {
		s := newStore(t)
		ch := uniq(t, "a")
		must(t, s.Subscribe(ctx, ch, "c1"))
		must(t, s.Subscribe(ctx, ch, "c2"))
		must(t, s.Unsubscribe(ctx, ch, "c1"))
		must(t, s.Unsubscribe(ctx, ch, "never-joined"))
		if got := members(t, s, ch); !slices.Equal(got, []string{"c2"}) {
			t.Fatalf("members = %v, want [c2]", got)
		}
	})
	t.Run("DropConnection", func(t *testing.T) {
		s := newStore(t)
		a, b := uniq(t, "a"), uniq(t, "b")
		must(t, s.Subscribe(ctx, a, "c1"))
		must(t, s.Subscribe(ctx, b, "c1"))
		must(t, s.Subscribe(ctx, b, "c2"))
		left, err := s.DropConnection(ctx, "c1")
		must(t, err)
		if slices.Sort(left); !slices.Equal(left, []string{a, b}) {
			t.Fatalf("DropConnection(c1) left %v, want [%s %s]", left, a, b)
		}
		left, err = s.DropConnection(ctx, "unknown")
		must(t, err)
		if len(left) != 0 {
			t.Fatalf("DropConnection(unknown) left %v, want none", left)
		}
		if got := members(t, s, a); len(got) != 0 {
			t.Fatalf("members of a = %v, want none", got)
		}
		if got := members(t, s, b); !slices.Equal(got, []string{"c2"}) {
			t.Fatalf("members of b = %v, want [c2]", got)
		}
	})
	t.Run("ChannelsAreIndependent", func(t *testing.T) {
		s := newStore(t)
		a, b := uniq(t, "a"), uniq(t, "b")
		must(t, s.Subscribe(ctx, a, "c1"))
		must(t, s.Subscribe(ctx, b, "c2"))
		if got := members(t, s, a); !slices.Equal(got, []string{"c1"}) {
			t.Fatalf("members of a = %v, want [c1]", got)
		}
	})
	t.Run("ManyMembersPaged", func(t *testing.T) {
		s := newStore(t)
		ch := uniq(t, "big")
		const n = 2500
		want := make([]string, n)
		for i := range n {
			want[i] = fmt.Sprintf("conn-%05d", i)
			must(t, s.Subscribe(ctx, ch, want[i]))
		}
		if got := members(t, s, ch); !slices.Equal(got, want) {
			t.Fatalf("got %d members, want %d", len(got), n)
		}
	})
	t.Run("MembersStopsOnError", func(t *testing.T) {
		s := newStore(t)
		ch := uniq(t, "stop")
		must(t, s.Subscribe(ctx, ch, "c1"))
		stop := wire.NewError(wire.CodeInternal, "stop")
		err := s.Members(ctx, ch, func([]string) error { return stop })
		if err == nil {
			t.Fatal("Members returned nil, want fn's error")
		}
	})
}

// uniq makes a channel name unique to the running test.
func uniq(t *testing.T, name string) string {
	return t.Name() + "/" + name
}
