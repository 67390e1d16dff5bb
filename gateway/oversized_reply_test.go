package gateway_test

import (
	"strings"
	"testing"

	"github.com/monologue-go/monologue/gateway"
)

// TestLongFieldsErrorAnswered: a frame within the size limit whose error
// answer would quote a long client-supplied field must still be answered
// (DESIGN: gone / unknown_action are answered, echoing the id), not dropped
// because the error frame itself exceeds the limit.
func TestLongFieldsErrorAnswered(t *testing.T) {
	const limit = 1024
	s := start(t, gateway.Options{MaxMessageSize: limit})
	c := s.dial(t)
	long := strings.Repeat("x", limit-40)
	for _, tc := range []struct{ body, code string }{
		{`{"to":"` + long[:900] + `","payload":1,"id":7}`, "gone"},
		{`{"action":"` + long + `","id":7}`, "unknown_action"},
	} {
		if len(tc.body) > limit {
			t.Fatalf("test frame of %d bytes over the limit", len(tc.body))
		}
		c.send(tc.body)
		m := c.readJSON()
		if errorCode(m) != tc.code || m["id"] != float64(7) {
			t.Fatalf("answer to a %s frame: %v", tc.code, m)
		}
	}
	if got := c.whoami(); got == "" {
		t.Fatal("connection not usable afterwards")
	}
}
