package gateway_test

import (
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestFrameTimeout: a frame that has started must arrive whole within
// FrameTimeout, or the connection is closed with 1008; the time between
// frames is not limited by it.
func TestFrameTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := start(t, gateway.Options{FrameTimeout: timeout})
	stalls := []struct {
		name string
		sent []byte
	}{
		{"in the payload", frame(opText, true, true, []byte(`{"action":"send","message":"abcdefghij"}`))[:12]},
		{"in the header", frame(opText, true, true, []byte("whoami"))[:1]},
		{"in an extended length", frame(opText, true, true, make([]byte, 200))[:3]},
		{"in a ping", frame(opPing, true, true, []byte("ping"))[:7]},
	}
	for _, tt := range stalls {
		t.Run("stall "+tt.name, func(t *testing.T) {
			c := s.dialRaw(t)
			c.write(frame(opText, true, true, []byte("whoami")))
			if op, id := c.read(); op != opText || len(id) != 16 {
				t.Fatalf("whoami: %x %q", op, id)
			}
			sent := time.Now()
			c.write(tt.sent)
			if status := c.readClose(); status != 1008 {
				t.Fatalf("close %d, want 1008", status)
			}
			if waited := time.Since(sent); waited < timeout/2 {
				t.Errorf("closed %v after the frame started; the frame timeout is %v", waited, timeout)
			}
		})
	}

	t.Run("between frames", func(t *testing.T) {
		c := s.dialRaw(t)
		message := []byte(`{"action":"send","message":"late"}`)
		c.write(frame(opText, false, true, message[:10]))
		time.Sleep(3 * timeout) // between two fragments, each whole
		c.write(frame(opContinuation, true, true, message[10:]))
		if op, payload := c.read(); op != opText || string(payload) != `{"message":"late"}` {
			t.Fatalf("reply %x %q", op, payload)
		}
		time.Sleep(3 * timeout) // between two messages
		c.write(frame(opText, true, true, []byte("whoami")))
		if op, id := c.read(); op != opText || len(id) != 16 {
			t.Fatalf("whoami: %x %q", op, id)
		}
	})
}
