package gateway_test

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

// dialFrom dials url from source address ip with key, and returns the
// connection or the handshake's HTTP status.
func dialFrom(t *testing.T, url, ip, key string) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}
	ws, resp, err := d.DialContext(context.Background(), url, http.Header{"X-Api-Key": {key}})
	if err != nil {
		if resp == nil {
			t.Fatalf("dial from %s: %v", ip, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = ws.Close() })
	return ws, http.StatusSwitchingProtocols
}

// TestConnectionCaps: past --max-connections a handshake gets 503, past the
// per-address or per-key cap 429, and a closed connection frees its place.
func TestConnectionCaps(t *testing.T) {
	t.Run("total", func(t *testing.T) {
		s := start(t, gateway.Options{MaxConnections: 2})
		first, _ := dialFrom(t, s.url, "127.0.0.1", testKey)
		dialFrom(t, s.url, "127.0.0.1", testKey)
		if _, status := dialFrom(t, s.url, "127.0.0.1", testKey); status != http.StatusServiceUnavailable {
			t.Fatalf("third connection of 2: HTTP %d, want 503", status)
		}
		first.Close()
		eventually(t, 5*time.Second, "a place freed by a close", func() bool {
			ws, status := dialFrom(t, s.url, "127.0.0.1", testKey)
			if ws != nil {
				ws.Close()
			}
			return status == http.StatusSwitchingProtocols
		})
	})
	t.Run("per IP", func(t *testing.T) {
		s := start(t, gateway.Options{MaxConnectionsPerIP: 2})
		dialFrom(t, s.url, "127.0.0.1", testKey)
		dialFrom(t, s.url, "127.0.0.1", testKey)
		if _, status := dialFrom(t, s.url, "127.0.0.1", testKey); status != http.StatusTooManyRequests {
			t.Fatalf("third connection from one address: HTTP %d, want 429", status)
		}
		if _, status := dialFrom(t, s.url, "127.0.0.2", testKey); status != http.StatusSwitchingProtocols {
			t.Fatalf("from another address: HTTP %d, want 101", status)
		}
	})
	t.Run("per key", func(t *testing.T) {
		s := start(t, gateway.Options{APIKeys: []string{testKey, "other-key"}, MaxConnectionsPerKey: 1})
		dialFrom(t, s.url, "127.0.0.1", testKey)
		if _, status := dialFrom(t, s.url, "127.0.0.2", testKey); status != http.StatusTooManyRequests {
			t.Fatalf("second connection with one key: HTTP %d, want 429", status)
		}
		if _, status := dialFrom(t, s.url, "127.0.0.1", "other-key"); status != http.StatusSwitchingProtocols {
			t.Fatalf("with another key: HTTP %d, want 101", status)
		}
	})
	t.Run("refused handshake frees its place", func(t *testing.T) {
		s := start(t, gateway.Options{MaxConnections: 1})
		for range 3 { // wrong key: refused before it counts
			if _, status := dialFrom(t, s.url, "127.0.0.1", "wrong"); status != http.StatusForbidden {
				t.Fatalf("wrong key: HTTP %d", status)
			}
		}
		if _, status := dialFrom(t, s.url, "127.0.0.1", testKey); status != http.StatusSwitchingProtocols {
			t.Fatalf("the one place: HTTP %d, want 101", status)
		}
	})
}
