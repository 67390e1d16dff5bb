package relaytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// holders returns every holder of name, sorted, and checks the count.
func holders(t *testing.T, s relay.Names, name string) []string {
	t.Helper()
	ids, count, err := s.Holders(context.Background(), name, 1<<20)
	if err != nil {
		t.Fatalf("Holders(%q): %v", name, err)
	}
	if count != len(ids) {
		t.Fatalf("Holders(%q): count %d for %d holders", name, count, len(ids))
	}
	slices.Sort(ids)
	return ids
}

// TestNames runs the Names conformance suite against stores that let a
// connection hold at most maxPerConnection names. newStore must return an
// empty store each time it is called; names are made unique per subtest,
// so a shared backing table is fine.
func TestNames(t *testing.T, maxPerConnection int, newStore func(t *testing.T) relay.Names) {
	ctx := context.Background()
	claim := func(t *testing.T, s relay.Names, name, id string, exclusive bool) []string {
		t.Helper()
		released, err := s.Claim(ctx, relay.Claim{Name: name, Label: name, ConnectionID: id, Exclusive: exclusive})
		if err != nil {
			t.Fatalf("Claim(%q, %q, %v): %v", name, id, exclusive, err)
		}
		slices.Sort(released)
		return released
	}
	t.Run("ClaimHolders", func(t *testing.T) {
		s := newStore(t)
		n := uniq(t, "billing")
		claim(t, s, n, "c1", false)
		claim(t, s, n, "c2", false)
		claim(t, s, n, "c2", false) // twice is fine
		if got := holders(t, s, n); !slices.Equal(got, []string{"c1", "c2"}) {
			t.Fatalf("holders = %v, want [c1 c2]", got)
		}
		if got := holders(t, s, uniq(t, "nobody")); len(got) != 0 {
			t.Fatalf("holders of an unclaimed name = %v", got)
		}
	})
	t.Run("Release", func(t *testing.T) {
		s := newStore(t)
		n := uniq(t, "n")
		claim(t, s, n, "c1", false)
		claim(t, s, n, "c2", false)
		must(t, s.Release(ctx, n, "c1"))
		must(t, s.Release(ctx, n, "never"))
		if got := holders(t, s, n); !slices.Equal(got, []string{"c2"}) {
			t.Fatalf("holders = %v, want [c2]", got)
		}
	})
	t.Run("Exclusive", func(t *testing.T) {
		s := newStore(t)
		n := uniq(t, "worker-7")
		claim(t, s, n, "c1", false)
		claim(t, s, n, "c2", false)
		if released := claim(t, s, n, "c3", true); !slices.Equal(released, []string{"c1", "c2"}) {
			t.Fatalf("exclusive claim released %v, want [c1 c2]", released)
		}
		if got := holders(t, s, n); !slices.Equal(got, []string{"c3"}) {
			t.Fatalf("holders = %v, want [c3]", got)
		}
		if released := claim(t, s, n, "c3", true); len(released) != 0 {
			t.Fatalf("claiming again released %v, want none", released)
		}
	})
	t.Run("ExclusiveRace", func(t *testing.T) {
		s := newStore(t)
		n := uniq(t, "leader")
		const racers = 8
		var wg sync.WaitGroup
		releasedBy := make([][]string, racers)
		for i := range racers {
			wg.Go(func() {
				released, err := s.Claim(ctx, relay.Claim{Name: n, Label: n, ConnectionID: fmt.Sprintf("r%d", i), Exclusive: true})
				if err != nil {
					t.Errorf("racer %d: %v", i, err)
				}
				releasedBy[i] = released
			})
		}
		wg.Wait()
		got := holders(t, s, n)
		if len(got) != 1 {
			t.Fatalf("after %d racing exclusive claims the holders are %v, want exactly one", racers, got)
		}
		// Every racer but the winner was released by some claim.
		released := map[string]bool{}
		for _, ids := range releasedBy {
			for _, id := range ids {
				released[id] = true
			}
		}
		for i := range racers {
			id := fmt.Sprintf("r%d", i)
			if id != got[0] && !released[id] {
				t.Errorf("%s lost the name without being released", id)
			}
		}
	})
	t.Run("HoldersLimit", func(t *testing.T) {
		s := newStore(t)
		n := uniq(t, "pool")
		for i := range 5 {
			claim(t, s, n, fmt.Sprintf("c%d", i), false)
		}
		ids, count, err := s.Holders(ctx, n, 2)
		must(t, err)
		if len(ids) != 2 || count != 5 {
			t.Fatalf("Holders(limit 2) = %v, count %d; want 2 of 5", ids, count)
		}
	})
	t.Run("DropConnection", func(t *testing.T) {
		s := newStore(t)
		a, b := uniq(t, "a"), uniq(t, "b")
		claim(t, s, a, "c1", false)
		claim(t, s, b, "c1", false)
		claim(t, s, b, "c2", false)
		must(t, s.DropConnection(ctx, "c1"))
		must(t, s.DropConnection(ctx, "unknown"))
		if got := holders(t, s, a); len(got) != 0 {
			t.Fatalf("holders of a = %v, want none", got)
		}
		if got := holders(t, s, b); !slices.Equal(got, []string{"c2"}) {
			t.Fatalf("holders of b = %v, want [c2]", got)
		}
	})
	t.Run("LimitPerConnection", func(t *testing.T) {
		s := newStore(t)
		for i := range maxPerConnection {
			claim(t, s, uniq(t, fmt.Sprintf("n%d", i)), "c1", false)
		}
		claim(t, s, uniq(t, "n0"), "c1", false) // held already: not one more
		_, err := s.Claim(ctx, relay.Claim{Name: uniq(t, "one-too-many"), Label: "one-too-many", ConnectionID: "c1"})
		if !errors.Is(err, wire.ErrLimitExceeded) {
			t.Fatalf("claim past %d names: err = %v, want limit_exceeded", maxPerConnection, err)
		}
		must(t, s.Release(ctx, uniq(t, "n0"), "c1"))
		claim(t, s, uniq(t, "one-too-many"), "c1", false)
	})
}
