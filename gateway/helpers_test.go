package gateway_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/internal/testlog"
	"github.com/monologue-go/monologue/relay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "test-key-0123456789"

// server is a gateway on two real loopback listeners.
type server struct {
	gw    *gateway.Gateway
	url   string // ws://127.0.0.1:P/
	http  string // http://127.0.0.1:P
	admin string // http://127.0.0.1:Q
	logs  *testlog.Buffer
}

// start starts a gateway with opts (APIKeys defaults to testKey) and stops
// it when the test ends, after the clients the test dialled.
func start(t testing.TB, opts gateway.Options) *server {
	t.Helper()
	if opts.APIKeys == nil {
		opts.APIKeys = []string{testKey}
	}
	logs := &testlog.Buffer{}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := gatewaytest.Start(t, opts)
	return &server{
		gw:    srv.Gateway,
		url:   srv.URL,
		http:  srv.PublicURL,
		admin: srv.AdminURL,
		logs:  logs,
	}
}

// dial connects a gorilla client (independent of the server's code) with
// the test key in the x-api-key header.
func (s *server) dial(t *testing.T) *client {
	t.Helper()
	return s.dialURL(t, s.url, http.Header{"X-Api-Key": {testKey}})
}

func (s *server) dialURL(t *testing.T, url string, header http.Header) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, status)
	}
	c := &client{t: t, ws: ws}
	t.Cleanup(c.close)
	return c
}

// client is a test-side WebSocket client.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func (c *client) close() { _ = c.ws.Close() }

func (c *client) send(text string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next text message, failing after 5 s.
func (c *client) read() string {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, data, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		c.t.Fatalf("read: message type %d, want text", typ)
	}
	return string(data)
}

// readJSON reads the next message into a map.
func (c *client) readJSON() map[string]any {
	c.t.Helper()
	text := c.read()
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		c.t.Fatalf("read %q: %v", text, err)
	}
	return m
}

func (c *client) whoami() string {
	c.t.Helper()
	c.send("whoami")
	return c.read()
}

// closeStatus reads until the connection closes and returns the close
// status the server sent, failing after timeout.
func (c *client) closeStatus(timeout time.Duration) int {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		c.t.Fatalf("read until close: %v", err)
	}
}

// errorCode returns error.code of an error frame, or "".
func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// eventually polls cond until it holds, failing after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// httpClient keeps no idle connections, so nothing lingers for goleak.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}

func httpDo(t *testing.T, method, url string, header http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

func memoryChannels() relay.Channels { return channels.NewMemory(0) }
