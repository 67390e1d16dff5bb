package testlog

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestConcurrentWrites(t *testing.T) {
	var b Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				log.Info("hello")
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "msg=hello\n"); got != 800 {
		t.Errorf("%d lines kept, want 800", got)
	}
}

func TestMax(t *testing.T) {
	b := Buffer{Max: 4}
	for _, p := range []string{"abc", "de", "fg"} {
		if n, err := b.Write([]byte(p)); n != len(p) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	// "abc" and "de" are kept (3 bytes is not over 4), "fg" is dropped.
	if got := b.String(); got != "abcde" {
		t.Errorf("kept %q, want %q", got, "abcde")
	}
}
