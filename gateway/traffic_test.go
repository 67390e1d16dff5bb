package gateway_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestDebugFrameLog: at level debug the gateway logs one line per frame in
// and out, with the connection, the route, the size and the error code.
func TestDebugFrameLog(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	id := c.whoami()
	frame := `{"to":"nobody","payload":1}`
	c.send(frame)
	c.read()
	for _, want := range []string{
		fmt.Sprintf(`msg="frame in" connection=%q route=whoami bytes=6`, id),
		fmt.Sprintf(`msg="frame out" connection=%q bytes=%d`, id, len(id)),
		fmt.Sprintf(`msg="frame in" connection=%q route=$default bytes=%d`, id, len(frame)),
		fmt.Sprintf(`msg="frame out" connection=%q bytes=`, id),
		"code=gone",
	} {
		eventually(t, 5*time.Second, want, func() bool { return strings.Contains(s.logs.String(), want) })
	}
}
