package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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
