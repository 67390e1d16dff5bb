package gateway_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestHandoffWithoutLimits: with no idle timeout and no age limit, a reader
// that has served messages still hands the idle wait over to a fresh
// goroutine (gateway/doc.go), rather than staying parked in serve.
func TestHandoffWithoutLimits(t *testing.T) {
	s := start(t, gateway.Options{IdleTimeout: -1, MaxConnectionAge: -1})
	c := s.dial(t)
	c.whoami()
	eventually(t, 2*time.Second, "reader to hand over", func() bool {
		buf := make([]byte, 1<<20)
		return !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "gateway.(*conn).serve(") // a frame, not a "created by" line
	})
}
