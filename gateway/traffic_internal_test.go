package gateway

import (
	"io"
	"log/slog"
	"testing"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// BenchmarkTrafficCounting is what counting costs per message, in and out,
// with the debug log off (the default): two atomic adds and a level check
// in, two additions under the lock enqueue holds anyway and a level check
// out.
func BenchmarkTrafficCounting(b *testing.B) {
	g := &Gateway{log: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	c := &conn{gw: g, id: "AtuLLemUPHcCItg="}
	body := []byte(`{"action":"loopback","payload":1}`)
	ev := relay.Event{ConnectionID: c.id, Route: wire.ActionLoopback, Body: body}
	b.ReportAllocs()
	for b.Loop() {
		c.received(&ev)
		c.mu.Lock()
		c.countOutLocked(len(body))
		c.mu.Unlock()
		c.traceOut(body, nil)
	}
}
