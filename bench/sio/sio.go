// Package sio is a minimal Socket.IO v5 client over Engine.IO v4, WebSocket
// transport only, for the benchmark's load generator: it dials
// /socket.io/?EIO=4&transport=websocket directly (no HTTP long-polling
// upgrade), connects to the main namespace, answers pings, and emits events
// with or without acknowledgements. No binary packets, no reconnection.
//
// Event arguments travel as raw JSON values (String builds one from a Go
// string), so the load generator spends no time in encoding/json.
//
// Packets on the wire (one per WebSocket text frame):
//
//	0{"sid":…,"pingInterval":…}  open (server → client)
//	2 / 3                         ping (server → client) / pong
//	40 / 40{"sid":…}              connect to "/" / connected
//	42ID["event",args…]           event, asking for an ack when ID is present
//	43ID[args…]                   acknowledgement of event ID
package sio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"
)

// ErrClosed is returned for emits on, and acks pending on, a closed Conn.
var ErrClosed = errors.New("sio: connection closed")

// Ack answers an event that asked for an acknowledgement.
type Ack func(args ...[]byte) error

// Options configure Dial; nil means defaults.
type Options struct {
	// Dialer dials the WebSocket; nil means websocket.DefaultDialer.
	Dialer *websocket.Dialer
	// OnEvent is called on the reading goroutine for every event the server
	// emits, with its arguments as raw JSON; ack is nil unless the server
	// asked for an acknowledgement. Nil drops events.
	OnEvent func(event string, args [][]byte, ack Ack)
}

// Conn is one Socket.IO connection to the main namespace. Its methods are
// safe for concurrent use.
type Conn struct {
	ws      *websocket.Conn
	sid     string
	onEvent func(string, [][]byte, Ack)

	wmu sync.Mutex

	nextAck atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]chan [][]byte
	err     error // why the reader stopped; guarded by mu

	done chan struct{}
}

// Dial opens a connection to url (ws://host:port/socket.io/?EIO=4&transport=websocket)
// and connects to the main namespace.
func Dial(ctx context.Context, url string, opts *Options) (*Conn, error) {
	if opts == nil {
		opts = &Options{}
	}
	d := opts.Dialer
	if d == nil {
		d = websocket.DefaultDialer
	}
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("sio: dial %s: %w", url, err)
	}
	c := &Conn{ws: ws, onEvent: opts.OnEvent, pending: map[uint64]chan [][]byte{}, done: make(chan struct{})}
	if err := c.handshake(ctx); err != nil {
		ws.Close()
		return nil, fmt.Errorf("sio: connect %s: %w", url, err)
	}
	go c.read()
	return c, nil
}

// handshake waits for the open packet, connects to "/" and waits for the
// namespace's answer.
func (c *Conn) handshake(ctx context.Context) error {
	if deadline, ok := ctx.Deadline(); ok {
		_ = c.ws.SetReadDeadline(deadline)
		defer c.ws.SetReadDeadline(noDeadline)
	}
	stop := context.AfterFunc(ctx, func() { c.ws.Close() })
	defer stop()
	opened := false
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return errors.Join(ctx.Err(), err)
		}
		switch {
		case len(msg) > 0 && msg[0] == '0' && !opened:
			opened = true
			if err := c.write([]byte("40")); err != nil {
				return err
			}
		case string(msg) == "2":
			if err := c.write([]byte("3")); err != nil {
				return err
			}
		case len(msg) >= 2 && msg[0] == '4' && msg[1] == '0':
			var v struct {
				SID string `json:"sid"`
			}
			if err := json.Unmarshal(msg[2:], &v); err != nil || v.SID == "" {
				return fmt.Errorf("bad connect answer %q", msg)
			}
			c.sid = v.SID
			return nil
		case len(msg) >= 2 && msg[0] == '4' && msg[1] == '4':
			return fmt.Errorf("connect refused: %s", msg[2:])
		}
	}
}

// SID returns the socket's ID in the main namespace, the address other
// sockets reach it by.
func (c *Conn) SID() string { return c.sid }

// Done is closed when the connection has stopped reading.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection stopped, once Done is closed.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for its reader to stop.
func (c *Conn) Close() error {
	err := c.ws.Close()
	<-c.done
	return err
}

// Emit sends event with args (raw JSON values) and asks for no ack.
func (c *Conn) Emit(event string, args ...[]byte) error {
	return c.write(appendEvent([]byte("42"), event, args))
}

// EmitWithAck sends event with args (raw JSON values) and waits for the
// acknowledgement, returning its arguments as raw JSON.
func (c *Conn) EmitWithAck(ctx context.Context, event string, args ...[]byte) ([][]byte, error) {
	id := c.nextAck.Add(1)
	ch := make(chan [][]byte, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	frame := strconv.AppendUint([]byte("42"), id, 10)
	if err := c.write(appendEvent(frame, event, args)); err != nil {
		c.forget(id)
		return nil, err
	}
	select {
	case ret, ok := <-ch:
		if !ok {
			return nil, c.Err()
		}
		return ret, nil
	case <-ctx.Done():
		c.forget(id)
		return nil, fmt.Errorf("sio: %s: %w", event, ctx.Err())
	}
}

func (c *Conn) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return errors.Join(ErrClosed, err)
	}
	return nil
}

// read dispatches packets until the connection fails.
func (c *Conn) read() {
	var err error
	defer func() {
		c.mu.Lock()
		c.err = errors.Join(ErrClosed, err)
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		c.mu.Unlock()
		close(c.done)
	}()
	for {
		var msg []byte
		if _, msg, err = c.ws.ReadMessage(); err != nil {
			return
		}
		if err = c.dispatch(msg); err != nil {
			c.ws.Close()
			return
		}
	}
}

func (c *Conn) dispatch(msg []byte) error {
	if len(msg) == 0 {
		return nil
	}
	switch msg[0] {
	case '2':
		return c.write([]byte("3"))
	case '1':
		return errors.New("server closed the session")
	case '4':
	default:
		return nil
	}
	if len(msg) < 2 {
		return nil
	}
	kind, rest := msg[1], msg[2:]
	if len(rest) > 0 && rest[0] == '/' { // a namespace other than "/"
		return nil
	}
	switch kind {
	case '1':
		return errors.New("server disconnected the socket")
	case '2', '3':
	default:
		return nil
	}
	id, hasID, data := cutAckID(rest)
	args, err := SplitArray(data)
	if err != nil {
		return fmt.Errorf("bad packet %.80q: %w", msg, err)
	}
	if kind == '3' {
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch != nil {
			ch <- args
		}
		return nil
	}
	if len(args) == 0 || c.onEvent == nil {
		return nil
	}
	event, err := Unquote(args[0])
	if err != nil {
		return fmt.Errorf("bad event name %.80q: %w", msg, err)
	}
	var ack Ack
	if hasID {
		ack = func(ret ...[]byte) error {
			return c.write(appendArray(strconv.AppendUint([]byte("43"), id, 10), ret))
		}
	}
	c.onEvent(event, args[1:], ack)
	return nil
}

// cutAckID splits the optional decimal ack ID off the front of a packet.
func cutAckID(b []byte) (id uint64, ok bool, rest []byte) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		id = id*10 + uint64(b[i]-'0')
		i++
	}
	return id, i > 0, b[i:]
}

func appendEvent(dst []byte, event string, args [][]byte) []byte {
	dst = append(dst, '[')
	dst = AppendString(dst, event)
	for _, a := range args {
		dst = append(append(dst, ','), a...)
	}
	return append(dst, ']')
}

func appendArray(dst []byte, args [][]byte) []byte {
	dst = append(dst, '[')
	for i, a := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
	}
	return append(dst, ']')
}
