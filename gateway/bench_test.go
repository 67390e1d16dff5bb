package gateway_test

import (
	"testing"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

// BenchmarkLoopback measures a round trip through the gateway and the
// in-process relay: one client, one loopback frame at a time.
func BenchmarkLoopback(b *testing.B) { benchmarkLoopback(b, gateway.Options{}) }

// benchmarkLoopback measures round trips of one loopback frame at a time
// through a gateway configured by opts.
func benchmarkLoopback(b *testing.B, opts gateway.Options) {
	s := start(b, opts)
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
