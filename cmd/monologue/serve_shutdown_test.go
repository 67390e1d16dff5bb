package main

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestServeShutdownWithSlowRequests: with requests whose bodies never come
// open on both listeners, cancelling serve still closes every WebSocket
// with 1001 and returns nil within a bounded time.
func TestServeShutdownWithSlowRequests(t *testing.T) {
	lines, stop := startServe(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--api-key", "k",
		"--log-level", "error", "--shutdown-timeout", "2s", "--http-read-timeout", "1m")
	endpoint := lines["listening"]
	publicAddr := strings.TrimSuffix(strings.TrimPrefix(endpoint, "ws://"), "/")
	adminAddr, _, _ := strings.Cut(strings.TrimPrefix(lines["admin"], "http://"), "/")

	// Requests whose bodies stop after a byte: the read timeout is far away.
	for _, head := range []struct{ addr, request string }{
		{publicAddr, "POST /channels/news HTTP/1.1\r\nHost: " + publicAddr + "\r\nX-Api-Key: k\r\nContent-Length: 100\r\n\r\nx"},
		{adminAddr, "POST /@connections/AAAAAAAAAAAAAAA%3D HTTP/1.1\r\nHost: " + adminAddr + "\r\nContent-Length: 100\r\n\r\nx"},
	} {
		conn, err := net.Dial("tcp", head.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if _, err := conn.Write([]byte(head.request)); err != nil {
			t.Fatal(err)
		}
	}

	const clients = 20
	closes := make(chan int, clients)
	for range clients {
		ws, _, err := websocket.DefaultDialer.Dial(endpoint, http.Header{"X-Api-Key": {"k"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					var ce *websocket.CloseError
					if errors.As(err, &ce) {
						closes <- ce.Code
					} else {
						closes <- -1
					}
					return
				}
			}
		}()
	}

	started := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("serve: %v, want nil", err)
	}
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("serve took %v to stop with a 2s shutdown timeout", took)
	}
	for range clients {
		select {
		case code := <-closes:
			if code != websocket.CloseGoingAway {
				t.Errorf("a client's connection ended with %d, want a close frame with 1001", code)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a client's connection is still open after serve returned")
		}
	}
}
