package gateway

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// TestCloseReasonValidUTF8: the gateway's close frame carries a valid
// UTF-8 reason however long the reason it was given, cut on a rune
// boundary rather than at byte 123.
func TestCloseReasonValidUTF8(t *testing.T) {
	c, client := newTCPConn(t, Options{})
	c.queueClose(closeGoingAway, strings.Repeat("é", 100))
	c.writers.Wait()
	r := bufio.NewReader(client)
	h, err := ws.ReadHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatal(err)
	}
	if h.OpCode != ws.OpClose || len(payload) < 2 || len(payload) > ws.MaxControlFramePayloadSize {
		t.Fatalf("frame %+v with %d bytes, want a close frame of at most 125", h, len(payload))
	}
	if reason := payload[2:]; !utf8.Valid(reason) || string(reason) != strings.Repeat("é", 61) {
		t.Fatalf("reason %q (%d bytes), want 61 × é", reason, len(reason))
	}
}
