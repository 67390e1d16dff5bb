// Package floor is the benchmark floor: the least a WebSocket relay can do
// and still speak the part of the monologue wire protocol that the Go client
// and the benchmark use (whoami, direct messages, subscribe and publish).
//
// It is deliberately naive: gorilla/websocket, one map from connection ID to
// connection under one mutex, a write mutex per connection, encoding/json to
// read the routing fields, and writes made by the reading goroutine itself.
// No API keys, limits, queues or metrics. Whatever monologue costs above it is
// the price of those.
package floor

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// Relay is the floor relay; it is an http.Handler for the WebSocket.
type Relay struct {
	upgrader websocket.Upgrader

	mu       sync.Mutex
	conns    map[string]*conn
	channels map[string]map[*conn]struct{}
}

type conn struct {
	id  string
	ws  *websocket.Conn
	wmu sync.Mutex
	chs map[string]struct{} // guarded by Relay.mu
}

// New returns a relay with no connections.
func New() *Relay {
	return &Relay{
		upgrader: websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }},
		conns:    map[string]*conn{},
		channels: map[string]map[*conn]struct{}{},
	}
}

// frame holds the fields of a client frame that route it.
type frame struct {
	Action  string          `json:"action"`
	To      string          `json:"to"`
	Channel string          `json:"channel"`
	Payload json.RawMessage `json:"payload"`
	Message json.RawMessage `json:"message"`
	ID      json.RawMessage `json:"id"`
}

// ServeHTTP upgrades the request and relays the connection's frames until it
// closes.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ws, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	var b [11]byte
	_, _ = rand.Read(b[:])
	c := &conn{id: base64.StdEncoding.EncodeToString(b[:]), ws: ws, chs: map[string]struct{}{}}
	r.mu.Lock()
	r.conns[c.id] = c
	r.mu.Unlock()
	defer r.drop(c)
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if string(msg) == "whoami" {
			c.write([]byte(c.id))
			continue
		}
		var f frame
		if err := json.Unmarshal(msg, &f); err != nil {
			c.write(errorFrame("bad_request", nil, ""))
			continue
		}
		r.route(c, &f)
	}
}

func (r *Relay) route(c *conn, f *frame) {
	switch f.Action {
	case "", "sendmessage":
		r.mu.Lock()
		to := r.conns[f.To]
		r.mu.Unlock()
		if to == nil {
			c.write(errorFrame("gone", f.ID, f.To))
			return
		}
		out := append([]byte(`{"to":`), quote(f.To)...)
		out = append(append(out, `,"from":`...), quote(c.id)...)
		out = appendPayload(out, f.Payload)
		to.write(append(out, '}'))
	case "subscribe", "unsubscribe":
		r.mu.Lock()
		members := r.channels[f.Channel]
		if f.Action == "subscribe" {
			if members == nil {
				members = map[*conn]struct{}{}
				r.channels[f.Channel] = members
			}
			members[c] = struct{}{}
			c.chs[f.Channel] = struct{}{}
		} else {
			delete(members, c)
			delete(c.chs, f.Channel)
		}
		r.mu.Unlock()
		out := append([]byte(`{"action":"`+f.Action+`d","channel":`), quote(f.Channel)...)
		if f.ID != nil {
			out = append(append(out, `,"id":`...), f.ID...)
		}
		c.write(append(out, '}'))
	case "publish":
		out := append([]byte(`{"channel":`), quote(f.Channel)...)
		out = append(append(out, `,"from":`...), quote(c.id)...)
		out = append(appendPayload(out, f.Payload), '}')
		r.mu.Lock()
		targets := make([]*conn, 0, len(r.channels[f.Channel]))
		for m := range r.channels[f.Channel] {
			if m != c {
				targets = append(targets, m)
			}
		}
		r.mu.Unlock()
		for _, m := range targets {
			m.write(out)
		}
	case "send":
		if f.Message == nil {
			c.write([]byte(`{"message":"🏓 pong"}`))
			return
		}
		c.write(append(append([]byte(`{"message":`), f.Message...), '}'))
	default:
		c.write(errorFrame("unknown_action", f.ID, ""))
	}
}

func (r *Relay) drop(c *conn) {
	r.mu.Lock()
	delete(r.conns, c.id)
	for ch := range c.chs {
		delete(r.channels[ch], c)
		if len(r.channels[ch]) == 0 {
			delete(r.channels, ch)
		}
	}
	r.mu.Unlock()
	c.ws.Close()
}

// write sends one text frame; errors surface as the reader's next failure.
func (c *conn) write(b []byte) {
	c.wmu.Lock()
	_ = c.ws.WriteMessage(websocket.TextMessage, b)
	c.wmu.Unlock()
}

func quote(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

func appendPayload(out, payload json.RawMessage) []byte {
	if payload == nil {
		return out
	}
	return append(append(out, `,"payload":`...), payload...)
}

func errorFrame(code string, id json.RawMessage, to string) []byte {
	out := []byte(`{"error":{"code":"` + code + `","message":"` + code + `"}`)
	if id != nil {
		out = append(append(out, `,"id":`...), id...)
	}
	if to != "" {
		out = append(append(out, `,"to":`...), quote(to)...)
	}
	return append(out, '}')
}
