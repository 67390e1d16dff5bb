package gateway_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/wire"
)

// TestMaxQueuedBytes: receivers that stop reading fill the server's send
// queues up to MaxQueuedBytes for all of them together, not up to their
// own queues' limits; past it, sends that would wait are refused with
// rate_limited while a receiver that reads still gets its frames, and once
// the stalled receivers are gone nothing is left counted.
func TestMaxQueuedBytes(t *testing.T) {
	const (
		maxQueued = 1 << 20
		frameSize = 32 << 10
		receivers = 8
	)
	s := start(t, gateway.Options{
		MaxMessageSize:  64 << 10,
		SendQueueBytes:  64 << 20, // each queue alone could hold far more
		SendQueueFrames: 1 << 20,
		MaxQueuedBytes:  maxQueued,
	})
	// Small receive buffers, so that the sockets fill up soon.
	dialer := websocket.Dialer{NetDialContext: (&net.Dialer{Control: func(_, _ string, raw syscall.RawConn) error {
		return raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}).DialContext}
	stalled := make([]*websocket.Conn, receivers)
	ids := make([]string, receivers)
	for i := range stalled {
		ws, _, err := dialer.Dial(s.url, http.Header{"X-Api-Key": {testKey}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		c := &client{t: t, ws: ws}
		ids[i], stalled[i] = c.whoami(), ws // and never reads again
	}

	ctx := context.Background()
	frame := []byte(`"` + strings.Repeat("x", frameSize-2) + `"`)
	refused := 0
	for i, id := range ids {
		for sent := 0; ; sent++ {
			err := s.gw.PostToConnection(ctx, id, frame)
			if errors.Is(err, wire.ErrRateLimited) {
				refused++
				break
			}
			if err != nil {
				t.Fatalf("receiver %d, frame %d: %v", i, sent, err)
			}
			if sent > 2000 { // 64 MiB: no limit holds
				t.Fatalf("receiver %d took %d frames of %d bytes without a refusal", i, sent, frameSize)
			}
		}
	}
	// Only the rest of a frame the socket took part of is queued past the
	// limit: at most one frame per receiver.
	queued := s.gw.QueuedBytes()
	if queued < maxQueued/2 || queued > maxQueued+receivers*frameSize {
		t.Errorf("%d bytes queued, want about %d", queued, maxQueued)
	}
	if refused != receivers {
		t.Errorf("%d of %d receivers refused", refused, receivers)
	}

	// A client sending to a stalled receiver gets rate_limited; one that
	// reads still gets what is sent to it.
	sender, reader := s.dial(t), s.dial(t)
	readerID := reader.whoami()
	sender.send(`{"to":"` + ids[0] + `","payload":1,"id":"s"}`)
	if m := sender.readJSON(); errorCode(m) != "rate_limited" || m["to"] != ids[0] {
		t.Errorf("send to a stalled receiver: %v, want rate_limited", m)
	}
	sender.send(`{"to":"` + readerID + `","payload":2}`)
	if got := reader.readJSON(); got["payload"] != 2.0 {
		t.Errorf("a receiver that reads got %v", got)
	}
	_, _, metrics := httpDo(t, "GET", s.admin+"/metrics", nil, "")
	if line := grep(metrics, `monologue_queue_drops_total{reason="max_queued_bytes"}`); line == "" || strings.HasSuffix(line, " 0") {
		t.Errorf("drops metric %q, want refusals counted", line)
	}
	if line := grep(metrics, "monologue_queued_bytes "); line == "" || strings.HasSuffix(line, " 0") {
		t.Errorf("queued bytes gauge %q, want the bytes queued", line)
	}

	for _, ws := range stalled {
		ws.Close()
	}
	eventually(t, 10*time.Second, "no byte left counted as queued", func() bool { return s.gw.QueuedBytes() == 0 })
}
