package gateway_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

// BenchmarkLoopbackInfo is BenchmarkLoopback with the gateway logging at
// level Info, as it does by default: what a round trip costs without the
// debug log of each frame that the tests' logger turns on.
func BenchmarkLoopbackInfo(b *testing.B) {
	s := start(b, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	ws, _, err := websocket.DefaultDialer.Dial(s.url, map[string][]string{"X-Api-Key": {testKey}})
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	msg := []byte(`{"action":"loopback","payload":{"n":12345}}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
