package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/internal/poll"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// TestStuckReader: a client that never reads fills its queue; its senders
// get rate_limited, other connections are not held up, and the stuck one is
// closed after WriteTimeout.
func TestStuckReader(t *testing.T) {
	s := start(t, gateway.Options{MaxMessageSize: 64 << 10, SendQueueFrames: 4, WriteTimeout: 500 * time.Millisecond})
	stuck, sender, other := s.dial(t), s.dial(t), s.dial(t)
	stuckID := stuck.whoami()

	var rateLimited, gone atomic.Int64
	readerDone := make(chan struct{})
	go func() { // the sender reads its error frames
		defer close(readerDone)
		for {
			_ = sender.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := sender.ws.ReadMessage()
			if err != nil {
				return
			}
			var m map[string]any
			_ = json.Unmarshal(data, &m)
			switch errorCode(m) {
			case "rate_limited":
				rateLimited.Add(1)
			case "gone":
				gone.Add(1)
				return
			}
		}
	}()

	frame := fmt.Sprintf(`{"action":"sendmessage","to":%q,"payload":"%s"}`, stuckID, strings.Repeat("x", 60<<10))
	deadline := time.Now().Add(15 * time.Second)
	for gone.Load() == 0 && time.Now().Before(deadline) {
		if err := sender.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatalf("sender write: %v", err)
		}
		if rateLimited.Load() > 0 { // the queue is full: others must still be served
			began := time.Now()
			other.send(`{"action":"loopback","payload":1}`)
			other.read()
			if elapsed := time.Since(began); elapsed > 250*time.Millisecond {
				t.Errorf("loopback took %v while another connection was stuck", elapsed)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if rateLimited.Load() == 0 || gone.Load() == 0 {
		t.Fatalf("rate_limited %d, gone %d: want both (the queue fills, then the stuck connection is closed)", rateLimited.Load(), gone.Load())
	}
	if _, ok := s.gw.Connection(stuckID); ok {
		t.Error("the stuck connection is still open")
	}
	sender.close()
	<-readerDone
	_, _, metrics := httpDo(t, "GET", s.admin+"/metrics", nil, "")
	if !strings.Contains(metrics, `monologue_queue_drops_total{reason="queue_full"}`) ||
		strings.Contains(metrics, `monologue_queue_drops_total{reason="queue_full"} 0`) {
		t.Errorf("metrics do not count the drops:\n%s", grep(metrics, "queue_drops"))
	}
}

func TestMessageRateLimit(t *testing.T) {
	s := start(t, gateway.Options{MessageRate: 5, MessageBurst: 5})
	c := s.dial(t)
	const n = 20
	for i := range n {
		c.send(fmt.Sprintf(`{"action":"send","message":%d,"id":%d}`, i, i))
	}
	ok, limited := 0, 0
	for range n {
		m := c.readJSON()
		switch {
		case m["message"] != nil:
			ok++
		case errorCode(m) == "rate_limited":
			limited++
			if m["id"] == nil {
				t.Errorf("rate_limited without the frame's id: %v", m)
			}
		default:
			t.Fatalf("unexpected frame %v", m)
		}
	}
	if ok < 5 || ok > 7 || limited != n-ok {
		t.Fatalf("%d answered, %d rate_limited; want the burst of 5 answered and the rest limited", ok, limited)
	}
}

func TestHTTPBroadcast(t *testing.T) {
	s := start(t, gateway.Options{MaxMessageSize: 1024})
	sub := s.dial(t)
	sub.send(`{"action":"subscribe","channel":"news"}`)
	if m := sub.readJSON(); m["action"] != "subscribed" {
		t.Fatalf("subscribe: %v", m)
	}
	key := http.Header{"X-Api-Key": {testKey}}
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   string
		status int
		want   string // frame the subscriber receives
	}{
		{name: "json", path: "/channels/news", header: key, body: `{"a":1}`, status: http.StatusAccepted, want: `{"channel":"news","payload":{"a":1}}`},
		{name: "text", path: "/channels/news?apiKey=" + testKey, body: "hello", status: http.StatusAccepted, want: `{"channel":"news","payload":"hello"}`},
		{name: "no key", path: "/channels/news", body: "x", status: http.StatusForbidden},
		{name: "wrong key", path: "/channels/news", header: http.Header{"X-Api-Key": {"nope"}}, body: "x", status: http.StatusForbidden},
		{name: "too large", path: "/channels/news", header: key, body: strings.Repeat("x", 1025), status: http.StatusRequestEntityTooLarge},
		{name: "frame too large", path: "/channels/news", header: key, body: strings.Repeat("x", 1020), status: http.StatusRequestEntityTooLarge},
		{name: "long channel", path: "/channels/" + strings.Repeat("c", 300), header: key, body: "x", status: http.StatusBadRequest},
		{name: "no subscribers", path: "/channels/empty", header: key, body: "x", status: http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := httpDo(t, "POST", s.http+tt.path, tt.header, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if status >= 400 {
				var e struct{ Message string }
				if err := json.Unmarshal([]byte(body), &e); err != nil || e.Message == "" || header.Get("Content-Type") != "application/json" {
					t.Errorf("error body %q: want JSON with a message", body)
				}
			}
			if tt.want != "" {
				if got := sub.read(); got != tt.want {
					t.Fatalf("subscriber got %s, want %s", got, tt.want)
				}
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	c.whoami()
	c.send("not json")
	c.read()
	c.send(`{"action":"loopback","payload":1}`)
	c.read()
	httpDo(t, "GET", s.http+"/", nil, "") // rejected: no key
	// A frame is counted out once its write has returned, which may be just
	// after the client has read it: ask again until the counts are there.
	poll.Until(t, 5*time.Second, func() string {
		_, _, metrics := httpDo(t, "GET", s.admin+"/metrics", nil, "")
		for _, want := range []string{
			"monologue_connections 1",
			"monologue_connections_opened_total 1",
			`monologue_messages_in_total{route="$default"} 2`,
			`monologue_messages_in_total{route="loopback"} 1`,
			"monologue_messages_out_total 3",
			`monologue_errors_total{code="bad_request"} 1`,
			`monologue_queue_drops_total{reason="queue_full"} 0`,
			`monologue_handshake_rejections_total{reason="forbidden"} 1`,
			"go_goroutines",
		} {
			if !strings.Contains(metrics, want+"\n") && !strings.Contains(metrics, want+" ") {
				return fmt.Sprintf("metrics lack %q:\n%s", want, grep(metrics, "monologue_"))
			}
		}
		return ""
	})
	for _, base := range []string{s.http, s.admin} {
		if status, _, body := httpDo(t, "GET", base+"/healthz", nil, ""); status != http.StatusOK {
			t.Errorf("healthz: %d %s", status, body)
		}
	}
}

func grep(text, substr string) string {
	var lines []string
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, substr) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

func TestShutdown(t *testing.T) {
	events := &recorder{}
	s := start(t, gateway.Options{NewIntegration: events.wrap})
	clients := []*client{s.dial(t), s.dial(t), s.dial(t)}
	for _, c := range clients {
		c.whoami()
	}
	statuses := make(chan int, len(clients))
	for _, c := range clients {
		go func() {
			_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.ws.ReadMessage()
			ce, _ := err.(*websocket.CloseError)
			if ce == nil {
				statuses <- -1
				return
			}
			statuses <- ce.Code
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.gw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for range clients {
		if status := <-statuses; status != websocket.CloseGoingAway {
			t.Errorf("close %d, want 1001", status)
		}
	}
	if connects, disconnects := events.count(wire.RouteConnect), events.count(wire.RouteDisconnect); connects != 3 || disconnects != 3 {
		t.Errorf("%d $connect and %d $disconnect events, want 3 of each", connects, disconnects)
	}
	_, resp, err := websocket.DefaultDialer.Dial(s.url, http.Header{"X-Api-Key": {testKey}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Shutdown: %v, want HTTP 503", err)
	}
	if logs := s.logs.String(); strings.Count(logs, "connection opened") != 3 || strings.Count(logs, "connection closed") != 3 {
		t.Errorf("want one open and one close line per connection:\n%s", logs)
	}
}

func TestConnectError(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
	}{
		{errors.New("refused"), http.StatusInternalServerError},
		{wire.NewError(wire.CodeForbidden, "not you"), http.StatusForbidden},
	} {
		events := &recorder{connectErr: tt.err}
		s := start(t, gateway.Options{NewIntegration: events.wrap})
		_, resp, err := websocket.DefaultDialer.Dial(s.url, http.Header{"X-Api-Key": {testKey}})
		if err == nil || resp == nil || resp.StatusCode != tt.status {
			t.Fatalf("dial with $connect failing with %v: %v, want HTTP %d", tt.err, err, tt.status)
		}
		if n := events.count(wire.RouteDisconnect); n != 0 {
			t.Errorf("%d $disconnect events for a refused connection", n)
		}
	}
}

// TestDisconnectBeforeRemoval: $disconnect sees the connection still known
// to TenantOf, and after it the connection is gone.
func TestDisconnectEvent(t *testing.T) {
	events := &recorder{}
	s := start(t, gateway.Options{NewIntegration: events.wrap})
	events.gw = s.gw
	c := s.dial(t)
	id := c.whoami()
	c.close()
	eventually(t, 5*time.Second, "$disconnect", func() bool { return events.count(wire.RouteDisconnect) == 1 })
	if !events.knownAtDisconnect.Load() {
		t.Error("connection unknown to TenantOf during $disconnect")
	}
	eventually(t, 5*time.Second, "removal", func() bool { _, ok := s.gw.TenantOf(id); return !ok })
	err := s.gw.Send(context.Background(), relay.Delivery{To: id, Frame: []byte("x")})
	if !errors.Is(err, wire.ErrGone) {
		t.Errorf("Send to a closed connection: %v, want gone", err)
	}
}

func TestSendErrors(t *testing.T) {
	s := start(t, gateway.Options{MaxMessageSize: 100})
	c := s.dial(t)
	id := c.whoami()
	ctx := context.Background()
	if err := s.gw.Send(ctx, relay.Delivery{To: "AAAAAAAAAAAAAAA=", Frame: []byte("x")}); !errors.Is(err, wire.ErrGone) {
		t.Errorf("unknown ID: %v, want gone", err)
	}
	if err := s.gw.Send(ctx, relay.Delivery{To: id, Frame: make([]byte, 101)}); !errors.Is(err, wire.ErrPayloadTooLarge) {
		t.Errorf("101 bytes: %v, want payload_too_large", err)
	}
	if err := s.gw.Send(ctx, relay.Delivery{To: id, Frame: []byte("hi")}); err != nil {
		t.Errorf("Send: %v", err)
	}
	if got := c.read(); got != "hi" {
		t.Errorf("got %q", got)
	}
}

func TestTenants(t *testing.T) {
	s := start(t, gateway.Options{APIKeys: []string{testKey, "other-key"}})
	a := s.dial(t)
	b := s.dialURL(t, s.url, http.Header{"X-Api-Key": {"other-key"}})
	idA, idB := a.whoami(), b.whoami()
	tenantA, _ := s.gw.TenantOf(idA)
	tenantB, _ := s.gw.TenantOf(idB)
	if tenantA == tenantB || tenantA == "" || strings.Contains(tenantA, testKey) {
		t.Fatalf("tenants %q and %q: want distinct labels that are not the keys", tenantA, tenantB)
	}
	a.send(fmt.Sprintf(`{"to":%q,"payload":1}`, idB))
	if code := errorCode(a.readJSON()); code != "forbidden" {
		t.Fatalf("message across tenants: %q, want forbidden", code)
	}
}

// recorder wraps the default relay and records the events it sees.
type recorder struct {
	connectErr        error // returned for $connect
	gw                *gateway.Gateway
	knownAtDisconnect atomic.Bool

	mu     sync.Mutex
	routes map[string]int
	next   gateway.Integration
}

func (r *recorder) wrap(gw *gateway.Gateway) (gateway.Integration, error) {
	opts := gw.RelayOptions()
	opts.Channels = memoryChannels()
	r.next = relay.New(opts)
	return r, nil
}

func (r *recorder) Handle(ctx context.Context, ev relay.Event) error {
	r.mu.Lock()
	if r.routes == nil {
		r.routes = map[string]int{}
	}
	r.routes[ev.Route]++
	r.mu.Unlock()
	if ev.Route == wire.RouteConnect {
		if _, ok := gateway.ConnectRequest(ctx); !ok {
			return errors.New("no handshake request in the $connect context")
		}
		if r.connectErr != nil {
			return r.connectErr
		}
	}
	if ev.Route == wire.RouteDisconnect && r.gw != nil {
		_, ok := r.gw.TenantOf(ev.ConnectionID)
		r.knownAtDisconnect.Store(ok)
	}
	return r.next.Handle(ctx, ev)
}

func (r *recorder) Broadcast(ctx context.Context, tenant, channel string, payload []byte) error {
	return r.next.Broadcast(ctx, tenant, channel, payload)
}

func (r *recorder) count(route string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.routes[route]
}
