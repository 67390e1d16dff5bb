//go:build linux

package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// clientFrame is a masked client frame of op carrying payload.
func clientFrame(t *testing.T, fin bool, op ws.OpCode, payload string) []byte {
	t.Helper()
	var buf bytes.Buffer
	h := ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload)), Masked: true, Mask: ws.NewMask()}
	if err := ws.WriteHeader(&buf, h); err != nil {
		t.Fatal(err)
	}
	masked := []byte(payload)
	ws.Cipher(masked, h.Mask, 0)
	buf.Write(masked)
	return buf.Bytes()
}

// raw is the client's socket under c, for writing frames the way no
// WebSocket library would: in pieces, many at once, fragmented.
func (c *client) raw() net.Conn { return c.ws.NetConn() }

func (c *client) writeRaw(b []byte) {
	c.t.Helper()
	if _, err := c.raw().Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// TestLoopFrameInPieces: a frame that arrives a few bytes at a time, its
// header split too, is handled once whole, and the frames after it too.
func TestLoopFrameInPieces(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	id := c.whoami()
	msg := fmt.Sprintf(`{"to":%q,"payload":"%s","id":"p"}`, id, strings.Repeat("x", 300))
	frame := append(clientFrame(t, true, ws.OpText, msg), clientFrame(t, true, ws.OpText, "whoami")...)
	for i := 0; i < len(frame); i += 7 {
		c.writeRaw(frame[i:min(i+7, len(frame))])
		time.Sleep(time.Millisecond)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(c.read()), &got); err != nil || got["payload"] != strings.Repeat("x", 300) {
		t.Fatalf("got %v (%v), want the payload", got, err)
	}
	if who := c.read(); who != id {
		t.Fatalf("whoami after the pieces: %q, want %q", who, id)
	}
}

// TestLoopManyFramesAtOnce: frames written together past the size of a
// loop's read buffer (a frame straddles its end) are all handled, in order.
func TestLoopManyFramesAtOnce(t *testing.T) {
	s := start(t, gateway.Options{})
	sender, receiver := s.dial(t), s.dial(t)
	to := receiver.whoami()
	const n = 400
	var batch []byte
	for i := range n {
		batch = append(batch, clientFrame(t, true, ws.OpText, fmt.Sprintf(`{"to":%q,"payload":{"n":%d,"pad":"%s"}}`, to, i, strings.Repeat("y", 90)))...)
	}
	if len(batch) < 3*16<<10 {
		t.Fatalf("batch of %d bytes is too small to fill the read buffer", len(batch))
	}
	sender.writeRaw(batch)
	for i := range n {
		var got struct {
			Payload struct{ N int } `json:"payload"`
		}
		if err := json.Unmarshal([]byte(receiver.read()), &got); err != nil || got.Payload.N != i {
			t.Fatalf("frame %d: got %+v (%v)", i, got, err)
		}
	}
}

// TestLoopLargeMessage: a message far larger than a loop's read buffer
// arrives whole.
func TestLoopLargeMessage(t *testing.T) {
	s := start(t, gateway.Options{MaxMessageSize: 1 << 20})
	c := s.dial(t)
	id := c.whoami()
	payload := strings.Repeat("z", 700<<10)
	c.send(fmt.Sprintf(`{"to":%q,"payload":%q}`, id, payload))
	var got map[string]any
	if err := json.Unmarshal([]byte(c.read()), &got); err != nil || got["payload"] != payload {
		t.Fatalf("large message: %v", err)
	}
	// And the connection carries on with small ones.
	if who := c.whoami(); who != id {
		t.Fatalf("whoami: %q", who)
	}
}

// TestLoopFragmentsPingsAndBinary: a fragmented message (which the loop
// hands to a goroutine), a ping between its fragments, and a binary frame
// are answered as always, and the connection goes on being served after
// it is given back to its loop.
func TestLoopFragmentsPingsAndBinary(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	id := c.whoami()
	pongs := make(chan string, 4)
	c.ws.SetPongHandler(func(data string) error { pongs <- data; return nil })
	msg := fmt.Sprintf(`{"to":%q,"payload":"fragmented"}`, id)
	var b []byte
	b = append(b, clientFrame(t, false, ws.OpText, msg[:10])...)
	b = append(b, clientFrame(t, true, ws.OpPing, "between")...)
	b = append(b, clientFrame(t, true, ws.OpContinuation, msg[10:])...)
	b = append(b, clientFrame(t, true, ws.OpBinary, "bin")...)
	c.writeRaw(b)
	var got map[string]any
	if err := json.Unmarshal([]byte(c.read()), &got); err != nil || got["payload"] != "fragmented" {
		t.Fatalf("fragmented message: %v (%v)", got, err)
	}
	if m := c.readJSON(); errorCode(m) != "bad_request" {
		t.Fatalf("binary frame: %v, want bad_request", m)
	}
	select {
	case p := <-pongs:
		if p != "between" {
			t.Fatalf("pong %q", p)
		}
	default:
		t.Fatal("no pong for the ping between fragments")
	}
	time.Sleep(300 * time.Millisecond) // past the hand-back of the idle goroutine
	c.writeRaw(clientFrame(t, true, ws.OpPing, "after"))
	if who := c.whoami(); who != id {
		t.Fatalf("whoami after the hand-back: %q", who)
	}
	if p := <-pongs; p != "after" {
		t.Fatalf("pong %q, want after", p)
	}
}

// TestLoopClientClose: a close frame from the client is answered with the
// same status, and the connection is gone for others at once.
func TestLoopClientClose(t *testing.T) {
	s := start(t, gateway.Options{})
	c, other := s.dial(t), s.dial(t)
	id := c.whoami()
	if err := c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye")); err != nil {
		t.Fatal(err)
	}
	if status := c.closeStatus(5 * time.Second); status != 4000 {
		t.Fatalf("close status %d, want 4000", status)
	}
	eventually(t, 5*time.Second, "the connection to go", func() bool { return s.gw.ConnectionCount() == 1 })
	other.send(fmt.Sprintf(`{"to":%q,"payload":1,"id":"g"}`, id))
	if m := other.readJSON(); errorCode(m) != "gone" {
		t.Fatalf("send to a closed connection: %v, want gone", m)
	}
}

// TestLoopIdleConnectionsHoldNoGoroutine: with event loops, an idle
// connection costs no goroutine; without them, one each.
func TestLoopIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const conns = 200
	for _, tc := range []struct {
		name        string
		loops       int
		least, most int
	}{
		// Goroutines of the test's earlier work may end meanwhile: the
		// bounds tell none per connection from one each, with room.
		{name: "loops", loops: 0, least: -conns, most: conns / 10},
		{name: "reader goroutines", loops: -1, least: conns * 3 / 4, most: 4 * conns},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, gateway.Options{EventLoops: tc.loops})
			warm := s.dial(t) // the loops start with the first connection
			warm.whoami()
			before := runtime.NumGoroutine()
			for range conns {
				s.dial(t).whoami()
			}
			time.Sleep(300 * time.Millisecond) // readers past their hand-over
			grown := runtime.NumGoroutine() - before
			// The test's own clients are gorilla connections, which start no
			// goroutines of their own.
			if grown < tc.least || grown > tc.most {
				t.Fatalf("%d idle connections: %d more goroutines, want %d to %d", conns, grown, tc.least, tc.most)
			}
		})
	}
}

// TestLoopAbruptClose: a client that sends a frame and drops the socket,
// without a close frame, is gone at once, not at its idle timeout.
func TestLoopAbruptClose(t *testing.T) {
	s := start(t, gateway.Options{})
	c, other := s.dial(t), s.dial(t)
	to := other.whoami()
	c.whoami()
	// Corked, the frame leaves with the FIN in one segment: the loop sees
	// one edge for both.
	raw, err := c.raw().(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, 1) }); err != nil {
		t.Fatal(err)
	}
	// A message that asks for no answer, so no write to the dropped
	// socket brings another edge.
	c.writeRaw(clientFrame(t, true, ws.OpText, fmt.Sprintf(`{"to":%q,"payload":"last"}`, to)))
	_ = c.raw().Close()
	if got := other.readJSON(); got["payload"] != "last" {
		t.Fatalf("got %v", got)
	}
	eventually(t, 5*time.Second, "the dropped connection to go", func() bool { return s.gw.ConnectionCount() == 1 })
}

// upgradeRequest is a WebSocket handshake request to s with extra header
// lines (each ending in \r\n).
func upgradeRequest(s *server, extra string) string {
	host := strings.TrimPrefix(s.http, "http://")
	return "GET / HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Api-Key: " + testKey + "\r\n" + extra + "\r\n"
}

// rawUpgrade writes req to a new TCP connection to s, in pieces of size
// bytes (0: at once), followed by after, and returns the connection with
// the handshake's answer read, checked, and the frames after it.
func rawUpgrade(t *testing.T, s *server, req string, size int, after []byte) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	b := append([]byte(req), after...)
	if size == 0 {
		size = len(b)
	}
	for i := 0; i < len(b); i += size {
		if _, err := conn.Write(b[i:min(i+size, len(b))]); err != nil {
			t.Fatal(err)
		}
		if size < len(b) {
			time.Sleep(2 * time.Millisecond)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("handshake answer: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake answer: %d %v", resp.StatusCode, resp.Header)
	}
	return conn, br
}

// readServerText reads one unmasked text frame.
func readServerText(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	h, err := ws.ReadHeader(br)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatal(err)
	}
	if h.OpCode != ws.OpText {
		t.Fatalf("frame %+v", h)
	}
	return string(p)
}

// TestLoopHandshake: the loops answer a handshake whose request arrives a
// few bytes at a time, and one whose first frame comes in the same write
// as the request; a request too long for them goes to net/http, which
// upgrades it just the same.
func TestLoopHandshake(t *testing.T) {
	s := start(t, gateway.Options{})
	whoami := clientFrame(t, true, ws.OpText, "whoami")

	conn, br := rawUpgrade(t, s, upgradeRequest(s, ""), 5, nil)
	if _, err := conn.Write(whoami); err != nil {
		t.Fatal(err)
	}
	if id := readServerText(t, br); len(id) != 16 {
		t.Fatalf("whoami after a request in pieces: %q", id)
	}

	_, br = rawUpgrade(t, s, upgradeRequest(s, "User-Agent: eager\r\n"), 0, whoami)
	if id := readServerText(t, br); len(id) != 16 {
		t.Fatalf("whoami sent with the request: %q", id)
	}

	long := "Cookie: " + strings.Repeat("c", 6000) + "\r\n"
	conn, br = rawUpgrade(t, s, upgradeRequest(s, long), 0, whoami)
	if id := readServerText(t, br); len(id) != 16 {
		t.Fatalf("whoami after a long request: %q", id)
	}
	_ = conn

	// Requests that are not upgrades reach net/http through the same port.
	status, _, body := httpDo(t, "GET", s.http+"/healthz", nil, "")
	if status != http.StatusOK || !strings.Contains(body, "ok") {
		t.Fatalf("healthz: %d %q", status, body)
	}
}

// TestLoopHandshakeRefused: a handshake the loops refuse gets API
// Gateway's error answer, and the connection ends.
func TestLoopHandshakeRefused(t *testing.T) {
	s := start(t, gateway.Options{MaxConnectionsPerIP: 1})
	s.dial(t).whoami()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(upgradeRequest(s, ""))); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("X-Amzn-Errortype") == "" || !strings.Contains(string(body), `"message"`) {
		t.Fatalf("refused handshake: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

// waitingIntegration is the relay, but a "send" of the message "wait"
// waits for release before it is served, and says so through Immediate.
// It notes whether $connect ran on an event loop, and "send" of "round"
// asks the loop for an end-of-round call.
type waitingIntegration struct {
	*relay.Relay
	release          chan struct{}
	connectImmediate bool
	connectOnLoop    atomic.Int32 // $connects that ran on a loop
	roundEnds        atomic.Int32 // end-of-round calls made
	roundAsked       atomic.Int32 // "round" frames whose AtRoundEnd took the call
}

func (w *waitingIntegration) message(ev *relay.Event) string {
	if ev.Frame == nil || ev.Frame.Action != "send" {
		return ""
	}
	return string(ev.Frame.Message)
}

func (w *waitingIntegration) Immediate(ev *relay.Event) bool {
	if ev.Route == wire.RouteConnect {
		return w.connectImmediate
	}
	return w.message(ev) != `"wait"`
}

func (w *waitingIntegration) Handle(ctx context.Context, ev relay.Event) error {
	if ev.Route == wire.RouteConnect && onLoop() {
		w.connectOnLoop.Add(1)
	}
	switch w.message(&ev) {
	case `"wait"`:
		<-w.release
	case `"round"`:
		if gateway.AtRoundEnd(ctx, func() { w.roundEnds.Add(1) }) {
			w.roundAsked.Add(1)
		}
	}
	return w.Relay.Handle(ctx, ev)
}

// onLoop reports whether the calling goroutine is an event loop's.
func onLoop() bool {
	buf := make([]byte, 64<<10)
	return bytes.Contains(buf[:runtime.Stack(buf, false)], []byte("gateway.(*loop)"))
}

// TestLoopIntegrationWaitsOffTheLoop: a frame its LoopIntegration says
// would wait is served by a goroutine of the connection's own, so the
// other connections of the loop go on meanwhile, and it and the frames
// after it are answered in order; AtRoundEnd runs its call on the loop
// before the round's frames are written, and only there; $connect runs on
// the loop only when the integration says it does not wait (else the
// handshake, and then the connection, are net/http's, as a request the
// loop does not answer always is).
func TestLoopIntegrationWaitsOffTheLoop(t *testing.T) {
	for _, connectImmediate := range []bool{true, false} {
		t.Run(fmt.Sprintf("connect immediate %v", connectImmediate), func(t *testing.T) {
			w := &waitingIntegration{release: make(chan struct{}), connectImmediate: connectImmediate}
			s := start(t, gateway.Options{EventLoops: 1, NewIntegration: func(gw *gateway.Gateway) (gateway.Integration, error) {
				opts := gw.RelayOptions()
				opts.Channels = memoryChannels()
				w.Relay = relay.New(opts)
				return w, nil
			}})
			var once sync.Once
			release := func() { once.Do(func() { close(w.release) }) }
			t.Cleanup(release) // before the server stops, should the test fail
			a, b := s.dial(t), s.dial(t)
			a.send(`{"action":"send","message":"wait"}`)
			a.send(`{"action":"send","message":"after"}`)
			b.send(`{"action":"send","message":"round"}`)
			if got := b.read(); !strings.Contains(got, `"round"`) {
				t.Fatalf("the other connection got %s, want its echo while the first waits", got)
			}
			onLoops := int32(0)
			if connectImmediate {
				onLoops = 1
			}
			if w.roundAsked.Load() != onLoops || w.roundEnds.Load() != onLoops {
				t.Fatalf("AtRoundEnd took %d calls and ran %d before the round's frame was read, want %d and %d",
					w.roundAsked.Load(), w.roundEnds.Load(), onLoops, onLoops)
			}
			release()
			for _, want := range []string{`"wait"`, `"after"`} {
				if got := a.read(); !strings.Contains(got, want) {
					t.Fatalf("the waiting connection got %s, want the echo of %s", got, want)
				}
			}
			a.send(`{"action":"send","message":"round"}`) // back on the loop
			if got := a.read(); !strings.Contains(got, `"round"`) {
				t.Fatalf("then: %s", got)
			}
			want := int32(0)
			if connectImmediate {
				want = 2
			}
			if got := w.connectOnLoop.Load(); got != want {
				t.Fatalf("%d $connects ran on the loop, want %d", got, want)
			}
			if gateway.AtRoundEnd(context.Background(), func() {}) {
				t.Fatal("AtRoundEnd took a call outside any loop")
			}
		})
	}
}
