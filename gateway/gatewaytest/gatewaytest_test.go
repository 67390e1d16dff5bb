package gatewaytest_test

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const key = "gatewaytest-key-0123456789"

var quiet = slog.New(slog.DiscardHandler)

// httpClient keeps no idle connections, so nothing lingers for goleak.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// whoami dials url with the key and returns the connection and its ID.
func whoami(t *testing.T, url string) (*websocket.Conn, string) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"X-Api-Key": {key}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		t.Fatalf("send whoami: %v", err)
	}
	_, id, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("read whoami: %v", err)
	}
	return ws, string(id)
}

// TestStart: the gateway serves a WebSocket on URL and its two handlers on
// their own listeners; Close closes connections with 1001, stops both
// listeners and leaves no goroutine behind.
func TestStart(t *testing.T) {
	before := goleak.IgnoreCurrent()
	srv := gatewaytest.Start(t, gateway.Options{APIKeys: []string{key}, Logger: quiet})
	if !strings.HasPrefix(srv.URL, "ws://") || !strings.HasSuffix(srv.URL, "/") {
		t.Errorf("URL %q, want ws://HOST:PORT/", srv.URL)
	}
	if srv.PublicURL == srv.AdminURL || strings.HasSuffix(srv.PublicURL, "/") || strings.HasSuffix(srv.AdminURL, "/") {
		t.Errorf("PublicURL %q, AdminURL %q: want two listeners, no trailing slash", srv.PublicURL, srv.AdminURL)
	}

	ws, id := whoami(t, srv.URL)
	if _, ok := srv.Gateway.Connection(id); !ok {
		t.Fatalf("whoami answered %q, which the gateway does not know", id)
	}
	for _, u := range []string{srv.PublicURL + "/healthz", srv.AdminURL + "/healthz"} {
		if status, body := get(t, u); status != http.StatusOK {
			t.Errorf("GET %s: %d %s, want 200", u, status, body)
		}
	}
	if status, _ := get(t, srv.PublicURL+"/metrics"); status == http.StatusOK {
		t.Errorf("GET /metrics on the public listener: 200; the admin handler is on the public listener")
	}

	ended := make(chan error, 1)
	go func() { // reads, so that the client answers the server's close frame
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := ws.ReadMessage()
		ended <- err
	}()
	srv.Close()
	err := <-ended
	if ce, ok := errors.AsType[*websocket.CloseError](err); !ok || ce.Code != websocket.CloseGoingAway {
		t.Errorf("Close ended the connection with %v, want close 1001", err)
	}
	ws.Close()
	if resp, err := httpClient.Get(srv.AdminURL + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("the admin listener still answers after Close")
	}
	goleak.VerifyNone(t, before)
	srv.Close() // idempotent; the cleanup calls it again too
}

// TestNewUnstarted: the admin URL is known before the gateway exists, and
// cleanups registered while building the integration run after the
// gateway has shut down.
func TestNewUnstarted(t *testing.T) {
	srv := gatewaytest.NewUnstarted(t)
	if srv.Gateway != nil || srv.URL == "" || srv.PublicURL == "" || srv.AdminURL == "" {
		t.Fatalf("unstarted: Gateway %v, URL %q, PublicURL %q, AdminURL %q; want no gateway and every URL", srv.Gateway, srv.URL, srv.PublicURL, srv.AdminURL)
	}
	adminURL := srv.AdminURL
	var seen string
	srv.Start(gateway.Options{APIKeys: []string{key}, Logger: quiet, NewIntegration: func(gw *gateway.Gateway) (gateway.Integration, error) {
		seen = srv.AdminURL // what an integration posting to the management API needs
		t.Cleanup(func() {
			rec := httptest.NewRecorder()
			gw.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
			if rec.Code != http.StatusServiceUnavailable {
				t.Errorf("the integration's cleanup ran while the gateway was up (/healthz %d, want 503)", rec.Code)
			}
		})
		opts := gw.RelayOptions()
		opts.Channels = channels.NewMemory(0)
		return relay.New(opts), nil
	}})
	if seen != adminURL || srv.AdminURL != adminURL {
		t.Errorf("NewIntegration saw AdminURL %q, the server has %q, before Start %q", seen, srv.AdminURL, adminURL)
	}
	if status, body := get(t, adminURL+"/healthz"); status != http.StatusOK {
		t.Errorf("GET %s/healthz: %d %s, want 200", adminURL, status, body)
	}
	ws, _ := whoami(t, srv.URL)
	t.Cleanup(func() { ws.Close() })
}

// TestNotStarted: a server never started closes its listeners at cleanup.
func TestNotStarted(t *testing.T) {
	var addrs []string
	t.Run("closed_at_cleanup", func(t *testing.T) {
		srv := gatewaytest.NewUnstarted(t)
		addrs = []string{strings.TrimPrefix(srv.PublicURL, "http://"), strings.TrimPrefix(srv.AdminURL, "http://")}
	})
	for _, addr := range addrs {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the test that listened ended", addr)
		}
	}
}
