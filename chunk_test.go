package monologue_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// bigString is n bytes of text that JSON does not escape, and that changes
// along its length so that misplaced chunks show.
func bigString(n int) string {
	b := make([]byte, 0, n+16)
	for i := 0; len(b) < n; i++ {
		start := len(b)
		b = append(b, "00000000"...)
		digits := strconv.AppendInt(nil, int64(i), 10)
		copy(b[start+max(0, 8-len(digits)):], digits)
		b = append(b, '.')
	}
	return string(b[:n])
}

// A payload over the gateway's limit (128 KiB) goes through in parts: a
// 2 MiB argument and the same 2 MiB result, a result alone, a message,
// and several transfers at once.
func TestChunkedTransfers(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	messages, onMessage := inbox()
	server := gw.dial(t, monologue.Options{OnMessage: onMessage})
	client := gw.dial(t, monologue.Options{})
	must(t, server.Handle("echo", func(_ context.Context, req *monologue.Request) (any, error) {
		return req.Args[0], nil
	}))
	must(t, server.Handle("make", func(_ context.Context, req *monologue.Request) (any, error) {
		var n int
		err := req.Bind(&n)
		return bigString(n), err
	}))
	ctx := context.Background()

	big := bigString(2 << 20)
	start := time.Now()
	var got string
	if err := client.Call(ctx, server.ID(), "echo", []any{big}, &got); err != nil {
		t.Fatalf("2 MiB echo: %v", err)
	}
	if got != big {
		t.Fatalf("2 MiB echo: got %d bytes, not what was sent", len(got))
	}
	t.Logf("2 MiB argument and result through a 128 KiB gateway in %v", time.Since(start).Round(time.Millisecond))

	if err := client.Call(ctx, server.ID(), "make", []any{1 << 20}, &got); err != nil || got != bigString(1<<20) {
		t.Fatalf("1 MiB result: %d bytes, %v", len(got), err)
	}

	message := map[string]any{"name": "snapshot", "blob": bigString(1 << 20)}
	must(t, client.Send(ctx, server.ID(), message))
	m := receive(t, messages, "the chunked message")
	var back map[string]any
	if m.From != client.ID() || m.Bind(&back) != nil || back["blob"] != message["blob"] || back["name"] != "snapshot" {
		t.Fatalf("chunked message from %q: %.80s", m.From, m.Payload)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			arg := bigString(300<<10 + i)
			var s string
			if err := client.Call(ctx, server.ID(), "echo", []any{arg}, &s); err != nil || s != arg {
				errs <- fmt.Errorf("concurrent transfer %d: %d bytes, %v", i, len(s), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A peer that does not accept a chunked message makes the operation fail
// with a clear error, and never receives a part of it.
func TestChunkingRefused(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	ctx := context.Background()
	client := gw.dial(t, monologue.Options{})
	big := bigString(200 << 10)

	t.Run("chunking off", func(t *testing.T) {
		messages, onMessage := inbox()
		off := gw.dial(t, monologue.Options{ChunkBudget: -1, OnMessage: onMessage})
		must(t, off.Handle("echo", echoArgs))
		start := time.Now()
		err := client.Call(ctx, off.ID(), "echo", []any{big}, nil)
		if !errors.Is(err, monologue.ErrChunkingUnsupported) || time.Since(start) > 2*time.Second {
			t.Fatalf("call: %v after %v, want ErrChunkingUnsupported at once", err, time.Since(start))
		}
		t.Log(err)
		if err := client.Send(ctx, off.ID(), big); !errors.Is(err, monologue.ErrChunkingUnsupported) {
			t.Fatalf("send: %v, want ErrChunkingUnsupported", err)
		}
		must(t, off.Ping(ctx))
		select {
		case m := <-messages:
			t.Fatalf("the peer received %.80s", m.Payload)
		default:
		}
		// Its result over the limit: payload_too_large, at once.
		must(t, client.Handle("make", func(_ context.Context, req *monologue.Request) (any, error) { return big, nil }))
		err = off.Call(ctx, client.ID(), "make", nil, nil)
		var remote *monologue.RemoteError
		if !errors.Is(err, monologue.ErrPayloadTooLarge) || !errors.As(err, &remote) {
			t.Fatalf("large result to a caller without chunking: %v", err)
		}
		t.Log(err)
	})

	t.Run("over the budget", func(t *testing.T) {
		small := gw.dial(t, monologue.Options{ChunkBudget: 150 << 10})
		must(t, small.Handle("echo", echoArgs))
		err := client.Call(ctx, small.ID(), "echo", []any{big}, nil)
		if !errors.Is(err, monologue.ErrPayloadTooLarge) {
			t.Fatalf("%v, want ErrPayloadTooLarge", err)
		}
		t.Log(err)
	})

	t.Run("publish", func(t *testing.T) {
		if err := client.Publish(ctx, "news", big); !errors.Is(err, monologue.ErrPayloadTooLarge) {
			t.Fatalf("%v, want ErrPayloadTooLarge", err)
		}
	})

	t.Run("silent peer", func(t *testing.T) {
		peer := dialChunkPeer(t, gw)
		short := gw.dial(t, monologue.Options{CallTimeout: 300 * time.Millisecond})
		err := short.Call(ctx, peer.id, "echo", []any{big}, nil)
		if !errors.Is(err, monologue.ErrChunkingUnsupported) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v, want ErrChunkingUnsupported and DeadlineExceeded", err)
		}
		t.Log(err)
		open := peer.next(t)
		if open.Payload.Type != "REQ" || open.Payload.Data.Name != "$chunked" {
			t.Fatalf("first frame %+v, want the offer", open)
		}
		peer.none(t, 200*time.Millisecond)
	})

	t.Run("stalled receiver", func(t *testing.T) {
		peer := dialChunkPeer(t, gw)
		errs := make(chan error, 1)
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		go func() { errs <- client.Send(cctx, peer.id, big) }()
		open := peer.next(t)
		peer.send(t, client.ID(), fmt.Sprintf(`{"type":"ACK","data":{"token":%s,"ret":{"window":1}}}`, open.Payload.Data.Token))
		if f := peer.next(t); f.Payload.Type != "CHUNK" {
			t.Fatalf("got %+v, want the first chunk", f)
		}
		if err := receive(t, errs, "Send to fail"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%v, want DeadlineExceeded", err)
		}
		if f := peer.next(t); f.Payload.Type != "CHUNK_CANCEL" || string(f.Payload.Data.Token) != string(open.Payload.Data.Token) {
			t.Fatalf("got %+v, want CHUNK_CANCEL", f)
		}
	})

	if err := client.Handle("$chunked", echoArgs); err == nil {
		t.Error("Handle($chunked) succeeded; the name is reserved")
	}
}

// A receiver holds an incomplete message for ChunkTimeout at most and tells
// the sender; it checks every chunk; its budget comes back.
func TestChunkedReceiverBounds(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	messages, onMessage := inbox()
	receiver := gw.dial(t, monologue.Options{OnMessage: onMessage, ChunkBudget: 64 << 10, ChunkTimeout: 200 * time.Millisecond})
	peer := dialChunkPeer(t, gw)
	payload := []byte(`"` + bigString(50<<10) + `"`)

	// Offer, one chunk of two, then nothing: dropped with "timeout".
	window := peer.offer(t, receiver.ID(), 1, len(payload), 30<<10)
	if window < 1 {
		t.Fatalf("window %d", window)
	}
	peer.chunk(t, receiver.ID(), 1, 0, payload[:30<<10])
	if ack := peer.next(t); ack.Payload.Type != "CHUNK_ACK" || ack.Payload.Data.Received != 1 {
		t.Fatalf("got %+v, want CHUNK_ACK 1", ack)
	}
	start := time.Now()
	if end := peer.next(t); end.Payload.Type != "CHUNK_ERR" || end.Payload.Data.Error.Code != "timeout" {
		t.Fatalf("got %+v, want CHUNK_ERR timeout", end)
	} else {
		t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), end.Payload.Data.Error.Message)
	}

	// The budget is free again: an offer of all of it is accepted. Its
	// chunks arrive out of order, with a duplicate, and a bad one first.
	payload = []byte(`"` + bigString(64<<10-2) + `"`)
	peer.offer(t, receiver.ID(), 2, len(payload), 20<<10)
	peer.chunk(t, receiver.ID(), 2, 3, payload[:10]) // the last chunk holds 4 KiB
	if end := peer.next(t); end.Payload.Type != "CHUNK_ERR" || end.Payload.Data.Error.Code != "bad_request" {
		t.Fatalf("got %+v, want CHUNK_ERR bad_request", end)
	}
	peer.offer(t, receiver.ID(), 3, len(payload), 20<<10)
	for _, seq := range []int{3, 1, 1, 0, 2} {
		peer.chunk(t, receiver.ID(), 3, seq, payload[seq*20<<10:min((seq+1)*20<<10, len(payload))])
	}
	for want := 1; want <= 4; want++ {
		if ack := peer.next(t); ack.Payload.Type != "CHUNK_ACK" || ack.Payload.Data.Received != want {
			t.Fatalf("got %+v, want CHUNK_ACK %d", ack, want)
		}
	}
	m := receive(t, messages, "the message put together")
	if !bytes.Equal(m.Payload, payload) || m.From != peer.id {
		t.Fatalf("message from %q of %d bytes, want %d from %q", m.From, len(m.Payload), len(payload), peer.id)
	}

	// A chunk of no transfer; an offer over the budget.
	peer.chunk(t, receiver.ID(), 9, 0, payload[:10])
	if end := peer.next(t); end.Payload.Type != "CHUNK_ERR" || end.Payload.Data.Error.Code != "not_found" {
		t.Fatalf("got %+v, want CHUNK_ERR not_found", end)
	}
	if w := peer.offer(t, receiver.ID(), 10, 65<<10, 20<<10); w != -1 {
		t.Fatalf("an offer over the budget was accepted")
	}
}

// chunkPeer is a bare WebSocket connection to the gateway that speaks the
// chunking frames by hand.
type chunkPeer struct {
	ws     *websocket.Conn
	id     string
	frames chan rawFrame
}

type rawFrame struct {
	From    string `json:"from"`
	Payload struct {
		Type string `json:"type"`
		Data struct {
			Token    json.RawMessage `json:"token"`
			Name     string          `json:"name"`
			Received int             `json:"received"`
			Ret      struct {
				Window int `json:"window"`
			} `json:"ret"`
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"data"`
	} `json:"payload"`
}

func dialChunkPeer(t *testing.T, gw *testGateway) *chunkPeer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(gw.endpoint, http.Header{"X-Api-Key": {testKey}})
	if err != nil {
		t.Fatal(err)
	}
	must(t, ws.WriteMessage(websocket.TextMessage, []byte("whoami")))
	_, id, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	p := &chunkPeer{ws: ws, id: string(id), frames: make(chan rawFrame, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var f rawFrame
			if json.Unmarshal(data, &f) == nil {
				p.frames <- f
			}
		}
	}()
	t.Cleanup(func() { ws.Close(); <-done })
	return p
}

func (p *chunkPeer) send(t *testing.T, to string, payload string) {
	t.Helper()
	must(t, p.ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"sendmessage","to":"`+to+`","payload":`+payload+`}`)))
}

func (p *chunkPeer) next(t *testing.T) rawFrame {
	t.Helper()
	return receive(t, p.frames, "a frame for the raw peer")
}

func (p *chunkPeer) none(t *testing.T, wait time.Duration) {
	t.Helper()
	select {
	case f := <-p.frames:
		t.Fatalf("unexpected frame %+v", f)
	case <-time.After(wait):
	}
}

// offer opens transfer token; it returns the window, or -1 when refused.
func (p *chunkPeer) offer(t *testing.T, to string, token, size, chunk int) int {
	t.Helper()
	p.send(t, to, fmt.Sprintf(`{"type":"REQ","data":{"token":%d,"name":"$chunked","args":[{"size":%d,"chunks":%d,"chunk":%d}]}}`,
		token, size, (size+chunk-1)/chunk, chunk))
	f := p.next(t)
	switch f.Payload.Type {
	case "ACK":
		return f.Payload.Data.Ret.Window
	case "ERR":
		t.Logf("offer refused: %s: %s", f.Payload.Data.Error.Code, f.Payload.Data.Error.Message)
		return -1
	}
	t.Fatalf("answer to the offer: %+v", f)
	return 0
}

func (p *chunkPeer) chunk(t *testing.T, to string, token, seq int, data []byte) {
	t.Helper()
	p.send(t, to, fmt.Sprintf(`{"type":"CHUNK","data":{"token":%d,"seq":%d,"data":"%s"}}`,
		token, seq, base64.StdEncoding.EncodeToString(data)))
}
