package wire

import (
	"strings"
	"testing"
)

func TestConnectionIDOnNode(t *testing.T) {
	tag := NewNodeTag()
	seen := map[string]bool{}
	for range 1000 {
		id := NewConnectionIDOn(tag)
		if len(id) != 16 || !strings.HasSuffix(id, "=") || !strings.HasPrefix(id, tag.Prefix()) {
			t.Fatalf("id %q: want 16 characters ending in = and starting with %q", id, tag.Prefix())
		}
		if got, ok := TagOf(id); !ok || got != tag {
			t.Fatalf("TagOf(%q) = %v %v, want %v", id, got, ok, tag)
		}
		if seen[id] {
			t.Fatalf("id %q issued twice", id)
		}
		seen[id] = true
	}
	if parsed, ok := ParseNodeTag(tag.String()); !ok || parsed != tag {
		t.Fatalf("ParseNodeTag(%q) = %v %v", tag.String(), parsed, ok)
	}
	for _, bad := range []string{"", "short", "AAAA", "!!!!AAAAAAAAAAA=", strings.Repeat("A", 17)} {
		if _, ok := TagOf(bad); ok {
			t.Errorf("TagOf(%q) accepted", bad)
		}
	}
	if _, ok := ParseNodeTag("zzzzzz"); ok {
		t.Error("ParseNodeTag accepted non-hex")
	}
}
