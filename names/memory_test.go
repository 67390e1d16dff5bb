package names_test

import (
	"testing"

	"github.com/monologue-go/monologue/names"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
)

func TestMemoryConformance(t *testing.T) {
	relaytest.TestNames(t, 3, func(*testing.T) relay.Names { return names.NewMemory(3) })
}

func TestMemoryForgetsEmptyNames(t *testing.T) {
	m := names.NewMemory(0)
	ctx := t.Context()
	if _, err := m.Claim(ctx, relay.Claim{Name: "a", ConnectionID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if err := m.DropConnection(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len after drop = %d, want 0", n)
	}
}
