//go:build linux

package gateway

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestLoopsAnswerHandshakes: through Gateway.Listener, the loops answer
// handshakes themselves; served without it, net/http does.
func TestLoopsAnswerHandshakes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		wrap     bool
		answered bool
	}{
		{name: "through Listener", wrap: true, answered: true},
		{name: "plain listener", wrap: false, answered: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := New(Options{})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			url := "ws://" + ln.Addr().String() + "/"
			if tc.wrap {
				ln = g.Listener(ln)
			}
			srv := g.HTTPServer(g.Handler())
			go func() { _ = srv.Serve(ln) }()
			ws, _, err := websocket.DefaultDialer.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
				t.Fatal(err)
			}
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, id, err := ws.ReadMessage(); err != nil || len(id) != 16 {
				t.Fatalf("whoami: %q %v", id, err)
			}
			var answered uint64
			for _, l := range g.loops.all {
				answered += l.answered.Load()
			}
			if (answered > 0) != tc.answered {
				t.Errorf("the loops answered %d handshakes", answered)
			}
			_ = ws.Close()
			_ = srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := g.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
