package gateway

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// traffic counts what one connection sent and received, for the
// introspection API. Counting is on the hot path, so it costs no lock and
// no allocation: the reader goroutine, which alone handles incoming
// messages, adds to the atomics in; the out counts are plain fields updated
// under conn.mu, which enqueue holds anyway.
type traffic struct {
	messagesIn, bytesIn atomic.Uint64

	// Guarded by conn.mu: text frames accepted for delivery (queued, or
	// written at once), and their bytes. A frame refused with rate_limited
	// is not counted.
	messagesOut, bytesOut uint64
}

// received counts one message from the client and logs it at debug level
// (reader goroutine only), with its route ("whoami" for whoami, which API
// Gateway routes to $default).
func (c *conn) received(ev *relay.Event) {
	size := len(ev.Body)
	c.traffic.messagesIn.Add(1)
	c.traffic.bytesIn.Add(uint64(size))
	if log := c.gw.log; log.Enabled(context.Background(), slog.LevelDebug) {
		route := ev.Route
		if ev.Frame != nil && ev.Frame.Whoami {
			route = wire.Whoami
		}
		log.LogAttrs(context.Background(), slog.LevelDebug, "frame in",
			slog.String("connection", c.id), slog.String("route", route), slog.Int("bytes", size))
	}
}

// countOutLocked counts a text frame accepted for delivery (c.mu held).
func (c *conn) countOutLocked(size int) {
	c.traffic.messagesOut++
	c.traffic.bytesOut += uint64(size)
}

// traceOut logs a text frame for the connection at debug level: its size,
// the error code when it is an error frame, and why it was not accepted
// when err is not nil.
func (c *conn) traceOut(frame []byte, err error) {
	log := c.gw.log
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	var buf [4]slog.Attr
	attrs := append(buf[:0], slog.String("connection", c.id), slog.Int("bytes", len(frame)))
	if code := errorCode(frame); code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	if err != nil {
		attrs = append(attrs, slog.Any("dropped", err))
	}
	log.LogAttrs(context.Background(), slog.LevelDebug, "frame out", attrs...)
}

// errorPrefix begins every error frame (wire.AppendError).
var errorPrefix = []byte(`{"error":{"code":"`)

// errorCode returns the code of an error frame, or "".
func errorCode(frame []byte) string {
	rest, ok := bytes.CutPrefix(frame, errorPrefix)
	if !ok {
		return ""
	}
	end := bytes.IndexByte(rest, '"')
	if end < 0 || end > 64 {
		return ""
	}
	return string(rest[:end])
}
