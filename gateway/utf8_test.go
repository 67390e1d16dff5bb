package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestInvalidUTF8BodiesRefused: what the HTTP endpoints would turn into a
// text frame must be valid UTF-8, or a strict receiver (a browser, node's
// ws) would fail its connection; such a body is answered 400 and nothing is
// delivered.
func TestInvalidUTF8BodiesRefused(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	id := c.whoami()
	c.send(`{"action":"subscribe","channel":"news"}`)
	if got := c.read(); got != `{"action":"subscribed","channel":"news"}` {
		t.Fatalf("subscribe: %q", got)
	}
	for _, tt := range []struct{ name, url string }{
		{"HTTP publish", s.http + "/channels/news"},
		{"PostToConnection", s.admin + "/@connections/" + url.PathEscape(id)},
	} {
		for _, body := range []string{"\xff", `{"a":"` + "\xc3\x28" + `"}`, `"` + "\xed\xa0\x80" + `"`} {
			req, _ := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(body))
			req.Header.Set("X-Api-Key", testKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s of %q: HTTP %d, want 400", tt.name, body, resp.StatusCode)
			}
		}
	}
	if got := c.whoami(); got != id {
		t.Fatalf("received %q: an invalid body was delivered", got)
	}
}

// TestInvalidUTF8Closes: a text message that is not valid UTF-8 closes its
// connection with status 1007 (RFC 6455 §8.1), before anything handles it;
// other connections live on, and a valid message whose runes are split
// across fragments is accepted.
func TestInvalidUTF8Closes(t *testing.T) {
	s := start(t, gateway.Options{})
	other := s.dial(t)
	otherID := other.whoami()
	for _, message := range []string{
		"\xff",
		"whoami\xff",
		`{"action":"loopback","payload":"` + "\xc3\x28" + `"}`,
		`{"action":"sendmessage","to":"` + otherID + `","payload":"` + "\xed\xa0\x80" + `"}`, // a surrogate
		`{"to":"` + otherID + `","payload":1,"id":"` + "\xf8\x88\x80\x80\x80" + `"}`,
	} {
		c := s.dial(t)
		c.send(message)
		if status := c.closeStatus(5 * time.Second); status != 1007 {
			t.Errorf("%q: close %d, want 1007", message, status)
		}
	}
	if got := other.whoami(); got != otherID {
		t.Fatalf("received %q: an invalid message was delivered", got)
	}

	raw := s.dialRaw(t)
	message := []byte(`{"action":"send","message":"é"}`)
	split := strings.Index(string(message), "é") + 1 // inside the rune
	raw.write(frame(opText, false, true, message[:split]), frame(opContinuation, true, true, message[split:]))
	if op, payload := raw.read(); op != opText || string(payload) != `{"message":"é"}` {
		t.Fatalf("a rune split across fragments: %x %q", op, payload)
	}
}
