package gateway_test

import (
	"io"
	"log/slog"
	"testing"

	"github.com/monologue-go/monologue/gateway"
)

// BenchmarkLoopbackInfo is BenchmarkLoopback with the gateway logging at
// level Info, as it does by default: what a round trip costs without the
// debug log of each frame that the tests' logger turns on.
func BenchmarkLoopbackInfo(b *testing.B) {
	benchmarkLoopback(b, gateway.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))})
}
