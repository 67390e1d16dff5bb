package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/gorilla/websocket"
	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/bench/sio"
)

// monologueDriver drives the monologue gateway, and the floor relay, which
// speaks the same wire protocol. Callers, callees and publishers are the Go
// client (its Call path is part of what is measured); subscribers and held
// connections are bare WebSockets speaking the protocol, as lean as the
// other peers' ones.
type monologueDriver struct {
	url, apiKey string
}

// quietLogger drops the client's diagnostics: the scenarios count every
// failure themselves.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func (d *monologueDriver) dial(ctx context.Context) (*monologue.Client, error) {
	c, err := monologue.Dial(ctx, &monologue.Options{
		Endpoint:    d.url,
		APIKey:      d.apiKey,
		CallTimeout: -1, // the scenarios put a deadline on every call
		Logger:      quietLogger,
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.url, err)
	}
	return c, nil
}

func (d *monologueDriver) callee(ctx context.Context, answer func(string) string) (string, func() error, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return "", nil, err
	}
	err = c.Handle("echo", func(_ context.Context, req *monologue.Request) (any, error) {
		var arg string
		if err := req.Bind(&arg); err != nil {
			return nil, err
		}
		return answer(arg), nil
	})
	if err != nil {
		c.Close()
		return "", nil, fmt.Errorf("register echo: %w", err)
	}
	return c.ID(), c.Close, nil
}

func (d *monologueDriver) caller(ctx context.Context) (caller, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	return monologueCaller{c}, nil
}

type monologueCaller struct{ c *monologue.Client }

func (m monologueCaller) call(ctx context.Context, to, arg string) (string, error) {
	var ret string
	err := m.c.Call(ctx, to, "echo", []any{arg}, &ret)
	return ret, err
}

func (m monologueCaller) close() error { return m.c.Close() }

func (d *monologueDriver) publisher(ctx context.Context) (publisher, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	return monologuePublisher{c}, nil
}

type monologuePublisher struct{ c *monologue.Client }

func (m monologuePublisher) publish(ctx context.Context, channel, payload string) error {
	return m.c.Publish(ctx, channel, payload)
}

func (m monologuePublisher) close() error { return m.c.Close() }

// dialRaw opens a bare WebSocket to the gateway from source address from.
func (d *monologueDriver) dialRaw(ctx context.Context, from net.IP) (*websocket.Conn, error) {
	ws, _, err := wsDialer(from).DialContext(ctx, d.url, http.Header{"X-Api-Key": {d.apiKey}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.url, err)
	}
	return ws, nil
}

func (d *monologueDriver) hold(ctx context.Context, from net.IP) (holder, error) {
	ws, err := d.dialRaw(ctx, from)
	if err != nil {
		return nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		ws.Close()
		return nil, fmt.Errorf("whoami: %w", err)
	}
	id, err := readWithin(ws, dialTimeout)
	if err == nil && (len(id) == 0 || id[0] == '{') {
		err = fmt.Errorf("answer %.100q is not a connection ID", id)
	}
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("whoami: %w", err)
	}
	return startHolder(ws, nil), nil
}

func (d *monologueDriver) subscribe(ctx context.Context, from net.IP, channel string, deliver func([]byte)) (holder, error) {
	ws, err := d.dialRaw(ctx, from)
	if err != nil {
		return nil, err
	}
	frame := append([]byte(`{"action":"subscribe","channel":`), sio.String(channel)...)
	if err := ws.WriteMessage(websocket.TextMessage, append(frame, `,"id":1}`...)); err != nil {
		ws.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	answer, err := readWithin(ws, dialTimeout)
	if err == nil && !bytes.Contains(answer, []byte(`"subscribed"`)) {
		err = fmt.Errorf("answer %.200q", answer)
	}
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return startHolder(ws, func(msg []byte) error {
		deliver(channelPayload(msg))
		return nil
	}), nil
}

// payloadKey precedes the payload in a channel frame
// {"channel":C,"from":F,"payload":P}, the gateway's (and the floor's) order.
var payloadKey = []byte(`,"payload":`)

// channelPayload returns the decoded string payload of a channel frame, or
// nil when msg is not one.
func channelPayload(msg []byte) []byte {
	if !bytes.HasPrefix(msg, []byte(`{"channel":`)) {
		return nil
	}
	if i := bytes.Index(msg, payloadKey); i >= 0 && msg[len(msg)-1] == '}' {
		if s, err := unquoteBytes(msg[i+len(payloadKey) : len(msg)-1]); err == nil {
			return s
		}
	}
	var f struct {
		Payload json.RawMessage `json:"payload"`
	}
	if json.Unmarshal(msg, &f) != nil {
		return nil
	}
	s, err := unquoteBytes(f.Payload)
	if err != nil {
		return nil
	}
	return s
}

// unquoteBytes decodes a raw JSON string, without copying when it has no
// escapes.
func unquoteBytes(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return nil, errors.New("not a JSON string")
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && bytes.IndexByte(inner, '"') < 0 {
		return inner, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}
