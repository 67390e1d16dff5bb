package gateway_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
)

func TestHandshakeKeys(t *testing.T) {
	s := start(t, gateway.Options{})
	tests := []struct {
		name   string
		url    string
		header http.Header
		status int // 0: the upgrade succeeds
	}{
		{name: "no key", url: s.url, status: http.StatusForbidden},
		{name: "wrong header key", url: s.url, header: http.Header{"X-Api-Key": {"nope"}}, status: http.StatusForbidden},
		{name: "wrong query key", url: s.url + "?apiKey=nope", status: http.StatusForbidden},
		{name: "key prefix", url: s.url, header: http.Header{"X-Api-Key": {testKey[:5]}}, status: http.StatusForbidden},
		{name: "header key", url: s.url, header: http.Header{"X-Api-Key": {testKey}}},
		{name: "query key", url: s.url + "?apiKey=" + url.QueryEscape(testKey)},
		{name: "stage path", url: s.url + "latest", header: http.Header{"X-Api-Key": {testKey}}},
		{name: "stage path with slash", url: s.url + "latest/", header: http.Header{"X-Api-Key": {testKey}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, resp, err := websocket.DefaultDialer.Dial(tt.url, tt.header)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c := &client{t: t, ws: ws}
				defer c.close()
				if id := c.whoami(); len(id) != 16 || !strings.HasSuffix(id, "=") {
					t.Errorf("whoami = %q, want a 16-character ID ending in =", id)
				}
				return
			}
			if err == nil {
				ws.Close()
				t.Fatal("dial succeeded, want a refused handshake")
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("response %v, want HTTP %d", resp, tt.status)
			}
		})
	}
	status, header, body := httpDo(t, "GET", s.http+"/", nil, "")
	if status != http.StatusForbidden || header.Get("x-amzn-ErrorType") != "ForbiddenException" || !strings.Contains(body, `"message"`) {
		t.Errorf("GET / without key: %d %q %q", status, header.Get("x-amzn-ErrorType"), body)
	}
	status, _, _ = httpDo(t, "GET", s.http+"/", http.Header{"X-Api-Key": {testKey}}, "")
	if status != http.StatusUpgradeRequired {
		t.Errorf("GET / with key, no upgrade: %d, want 426", status)
	}
}

func TestWhoamiIDsAreDistinct(t *testing.T) {
	s := start(t, gateway.Options{})
	a, b := s.dial(t), s.dial(t)
	idA, idB := a.whoami(), b.whoami()
	if idA == idB {
		t.Fatalf("two connections share ID %q", idA)
	}
	if _, err := base64.StdEncoding.DecodeString(idA); err != nil {
		t.Errorf("ID %q is not base64: %v", idA, err)
	}
	// Nothing is sent unprompted: the first frame is the answer to whoami,
	// and after it nothing arrives.
	_ = a.ws.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, data, err := a.ws.ReadMessage(); err == nil {
		t.Errorf("unprompted frame %q", data)
	}
}

func TestBinaryFrameIsBadRequest(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte(`{"action":"send"}`)); err != nil {
		t.Fatal(err)
	}
	if code := errorCode(c.readJSON()); code != "bad_request" {
		t.Fatalf("binary frame: code %q, want bad_request", code)
	}
	c.send(`{"action":"send","message":"still here"}`)
	if got := c.read(); got != `{"message":"still here"}` {
		t.Fatalf("after binary frame: %q", got)
	}
}

// message returns a send frame of exactly n bytes.
func message(n int) string {
	const head, tail = `{"action":"send","message":"`, `"}`
	return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
}

func TestMessageSizeLimit(t *testing.T) {
	const limit = 2048
	s := start(t, gateway.Options{MaxMessageSize: limit})
	for _, fragmented := range []bool{false, true} {
		name := "whole"
		dialer := *websocket.DefaultDialer
		if fragmented {
			name = "fragmented"
			dialer.WriteBufferSize = 300 // gorilla splits larger messages into frames
		}
		t.Run(name, func(t *testing.T) {
			dial := func() *client {
				ws, _, err := dialer.Dial(s.url, http.Header{"X-Api-Key": {testKey}})
				if err != nil {
					t.Fatal(err)
				}
				c := &client{t: t, ws: ws}
				t.Cleanup(c.close)
				return c
			}
			c := dial()
			c.send(message(limit))
			want := `{"message":"` + strings.Repeat("x", limit-len(`{"action":"send","message":"`)-2) + `"}`
			if got := c.read(); got != want {
				t.Fatalf("message of exactly the limit: reply of %d bytes, want %d", len(got), len(want))
			}
			c = dial()
			c.send(message(limit + 1))
			if status := c.closeStatus(5 * time.Second); status != websocket.CloseMessageTooBig {
				t.Fatalf("message one byte over: close %d, want 1009", status)
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	s := start(t, gateway.Options{IdleTimeout: 200 * time.Millisecond})
	idle := s.dial(t)
	busy := s.dial(t)
	started := time.Now()
	// Pings count as activity: busy outlives several idle timeouts.
	for time.Since(started) < 500*time.Millisecond {
		if err := busy.ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(time.Second)); err != nil {
			t.Fatalf("ping: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status := idle.closeStatus(5 * time.Second); status != websocket.CloseGoingAway {
		t.Fatalf("idle connection: close %d, want 1001", status)
	}
	busy.whoami() // still open; whoami also answers, which is activity
	if status := busy.closeStatus(5 * time.Second); status != websocket.CloseGoingAway {
		t.Fatalf("connection after activity stopped: close %d, want 1001", status)
	}
	if elapsed := time.Since(started); elapsed < 500*time.Millisecond {
		t.Fatalf("closed after %v", elapsed)
	}
}

// TestIdleTimeoutCountsWrites: frames to the client count as activity, so
// a connection that only receives stays open.
func TestIdleTimeoutCountsWrites(t *testing.T) {
	s := start(t, gateway.Options{IdleTimeout: 200 * time.Millisecond})
	c := s.dial(t)
	id := c.whoami()
	started := time.Now()
	for time.Since(started) < 600*time.Millisecond {
		if err := s.gw.Send(context.Background(), relay.Delivery{To: id, Frame: []byte("tick")}); err != nil {
			t.Fatalf("Send after %v: %v", time.Since(started), err)
		}
		if got := c.read(); got != "tick" {
			t.Fatalf("got %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status := c.closeStatus(5 * time.Second); status != websocket.CloseGoingAway {
		t.Fatalf("close %d, want 1001 once the ticks stop", status)
	}
}

// TestQuietThenBusy sends messages with pauses longer than the reader's
// hand-over delay, and in bursts.
func TestQuietThenBusy(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	for i := range 3 {
		c.send(`{"action":"send","message":1}`)
		c.read()
		time.Sleep(150 * time.Millisecond)
		for range 20 {
			c.send(`{"action":"send","message":2}`)
		}
		for range 20 {
			if got := c.read(); got != `{"message":2}` {
				t.Fatalf("round %d: %q", i, got)
			}
		}
	}
}

func TestMaxConnectionAge(t *testing.T) {
	s := start(t, gateway.Options{MaxConnectionAge: 300 * time.Millisecond})
	c := s.dial(t)
	started := time.Now()
	done := make(chan int)
	go func() {
		_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, _, err := c.ws.ReadMessage(); err != nil {
				ce, _ := err.(*websocket.CloseError)
				if ce == nil {
					done <- -1
				} else {
					done <- ce.Code
				}
				return
			}
		}
	}()
	// Keep it busy: activity does not extend the age limit.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case status := <-done:
			if status != websocket.CloseGoingAway {
				t.Fatalf("close %d, want 1001", status)
			}
			if elapsed := time.Since(started); elapsed < 250*time.Millisecond {
				t.Fatalf("closed after %v, before the age limit", elapsed)
			}
			return
		case <-tick.C:
			_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"send"}`))
		}
	}
}

func TestPingPong(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	pong := make(chan string, 1)
	c.ws.SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := c.ws.WriteControl(websocket.PingMessage, []byte("abc"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	c.send("whoami")
	c.read() // the pong handler runs while reading
	select {
	case data := <-pong:
		if data != "abc" {
			t.Fatalf("pong %q, want abc", data)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no pong")
	}
}

// TestFrameWithHandshake sends a frame in the same packet as the handshake,
// before the 101 arrives: the server must not lose it.
func TestFrameWithHandshake(t *testing.T) {
	s := start(t, gateway.Options{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	request := "GET /latest HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Api-Key: " + testKey + "\r\n\r\n"
	payload := []byte("whoami")
	mask := [4]byte{1, 2, 3, 4}
	frame := []byte{0x81, 0x80 | byte(len(payload)), mask[0], mask[1], mask[2], mask[3]}
	for i, b := range payload {
		frame = append(frame, b^mask[i%4])
	}
	if _, err := conn.Write(append([]byte(request), frame...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	head := make([]byte, 2)
	if _, err := r.Read(head[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(head[1:]); err != nil {
		t.Fatal(err)
	}
	if head[0] != 0x81 || head[1] != 16 {
		t.Fatalf("frame header % x, want a 16-byte text frame", head)
	}
}
