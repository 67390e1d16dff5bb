package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/bench/sio"
)

// plainSuffix marks the peers driven by plain clients: "monologue+plain"
// is the monologue server, driven as browsers, node's ws, wscat and gorilla
// drive it.
const plainSuffix = "+plain"

// serverOf returns the server a peer runs: the peer's name without a
// driver's suffix.
func serverOf(peer string) string { return strings.TrimSuffix(peer, plainSuffix) }

// plainDriver drives the monologue protocol the way most WebSocket clients
// do: every frame in a write of its own, as soon as it is made, never two
// in one. Callers write each call and callees each answer by itself
// (gorilla, one WriteMessage per frame, with buffers large enough that a
// frame is never split); subscribers are the bare WebSockets of
// monologueDriver, which write nothing while they run, and held
// connections (connect, idle) are opened by the leanest client there is
// (see hold).
type plainDriver struct {
	monologueDriver
	// wrap, when set, wraps each connection the driver's callers, callees
	// and publishers open (a test counts their writes).
	wrap func(net.Conn) net.Conn

	leanOnce sync.Once // makes leanReq
	leanReq  []byte
	leanAddr string
	leanErr  error
}

// plainBuffer holds a whole frame of the largest payloads the scenarios
// send, so that gorilla writes it in one system call.
const plainBuffer = 64 << 10

func (d *plainDriver) dialPlain(ctx context.Context) (*websocket.Conn, error) {
	dialer := wsDialer(nil)
	dialer.ReadBufferSize, dialer.WriteBufferSize = plainBuffer, plainBuffer
	if wrap, dial := d.wrap, dialer.NetDialContext; wrap != nil {
		dialer.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return wrap(c), nil
		}
	}
	ws, _, err := dialer.DialContext(ctx, d.url, http.Header{"X-Api-Key": {d.apiKey}})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.url, err)
	}
	ws.SetReadLimit(-1)
	return ws, nil
}

// rpcFrame is what a plain caller decodes when parseAnswer cannot read a
// frame: an RPC answer of another shape (a failure, a result that is not
// a string) or an error frame.
type rpcFrame struct {
	Payload struct {
		Type string `json:"type"`
		Data struct {
			Token uint64          `json:"token"`
			Ret   json.RawMessage `json:"ret"`
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"data"`
	} `json:"payload"`
	ID    json.RawMessage `json:"id"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (d *plainDriver) callee(ctx context.Context, answer func(string) string) (string, func() error, error) {
	ws, err := d.dialPlain(ctx)
	if err != nil {
		return "", nil, err
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		ws.Close()
		return "", nil, fmt.Errorf("whoami: %w", err)
	}
	id, err := readWithin(ws, dialTimeout)
	if err != nil {
		ws.Close()
		return "", nil, fmt.Errorf("whoami: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf, msg []byte
		for {
			var err error
			if msg, err = readFrame(ws, msg); err != nil {
				return
			}
			from, token, arg, ok := parseRequest(msg)
			if !ok {
				continue
			}
			buf = append(buf[:0], `{"action":"sendmessage","to":`...)
			buf = append(buf, sio.String(from)...)
			buf = append(buf, `,"payload":{"type":"ACK","data":{"token":`...)
			buf = strconv.AppendUint(buf, token, 10)
			buf = append(buf, `,"ret":`...)
			buf = append(buf, sio.String(answer(arg))...)
			buf = append(buf, "}}}"...)
			if ws.WriteMessage(websocket.TextMessage, buf) != nil {
				return
			}
		}
	}()
	closeFn := func() error {
		err := ws.Close()
		<-done
		return err
	}
	return string(id), closeFn, nil
}

func (d *plainDriver) caller(ctx context.Context) (caller, error) {
	ws, err := d.dialPlain(ctx)
	if err != nil {
		return nil, err
	}
	c := &plainCaller{ws: ws, waiting: make(map[uint64]chan plainAnswer), done: make(chan struct{})}
	go c.read()
	return c, nil
}

// plainCaller makes calls over one WebSocket: each call's frame is written
// by itself, and a reader hands each answer to its call by token.
type plainCaller struct {
	ws      *websocket.Conn
	writeMu sync.Mutex
	next    atomic.Uint64

	mu      sync.Mutex
	waiting map[uint64]chan plainAnswer
	done    chan struct{}
	err     error // why the reader stopped, once done is closed
}

type plainAnswer struct {
	ret string
	err error
}

func (c *plainCaller) read() {
	defer close(c.done)
	var msg []byte
	for {
		var err error
		if msg, err = readFrame(c.ws, msg); err != nil {
			c.err = err
			return
		}
		if token, ret, ok := parseAnswer(msg); ok {
			c.answer(token, plainAnswer{ret: ret})
			continue
		}
		var f rpcFrame
		if json.Unmarshal(msg, &f) != nil {
			continue
		}
		var token uint64
		var a plainAnswer
		switch {
		case f.Error != nil: // an error frame about a request: its id is the token
			token, _ = strconv.ParseUint(string(f.ID), 10, 64)
			a.err = fmt.Errorf("%s: %s", f.Error.Code, f.Error.Message)
		case f.Payload.Type == "ACK":
			token = f.Payload.Data.Token
			if json.Unmarshal(f.Payload.Data.Ret, &a.ret) != nil {
				a.err = fmt.Errorf("answer %.100q is not a string", f.Payload.Data.Ret)
			}
		case f.Payload.Type == "ERR" && f.Payload.Data.Error != nil:
			token = f.Payload.Data.Token
			a.err = fmt.Errorf("%s: %s", f.Payload.Data.Error.Code, f.Payload.Data.Error.Message)
		default:
			continue
		}
		c.answer(token, a)
	}
}

// answer hands a to the call waiting for token, if any still waits.
func (c *plainCaller) answer(token uint64, a plainAnswer) {
	c.mu.Lock()
	ch := c.waiting[token]
	delete(c.waiting, token)
	c.mu.Unlock()
	if ch != nil {
		ch <- a
	}
}

// readFrame reads the next message into buf, reused from one message to
// the next (gorilla's ReadMessage grows a new buffer for each, a handful
// of allocations and copies for a 4 KiB frame).
func readFrame(ws *websocket.Conn, buf []byte) ([]byte, error) {
	_, r, err := ws.NextReader()
	if err != nil {
		return buf, err
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// The gateway's frames have a fixed shape: {"to":T,"from":F,"payload":P},
// with P as the sender wrote it. A plain client of the benchmark reads the
// few fields it needs from that shape without decoding the whole frame, as
// a lean client would (the load generator's core must not be what limits
// the rate); anything else goes through encoding/json.

// parseRequest reads an echo request: its sender, token and argument.
func parseRequest(msg []byte) (from string, token uint64, arg string, ok bool) {
	const argsKey, tail = `"args":[`, "]}}}"
	f, ok1 := stringAfter(msg, `"from":"`)
	t, ok2 := numberAfter(msg, `"token":`)
	i := bytes.Index(msg, []byte(argsKey))
	if !ok1 || !ok2 || i < 0 || !bytes.HasSuffix(msg, []byte(tail)) || !bytes.Contains(msg, []byte(`"type":"REQ"`)) {
		return "", 0, "", false
	}
	a, err := unquoteBytes(msg[i+len(argsKey) : len(msg)-len(tail)])
	if err != nil {
		return "", 0, "", false
	}
	return f, t, string(a), true
}

// parseAnswer reads an echo answer: its token and string result.
func parseAnswer(msg []byte) (token uint64, ret string, ok bool) {
	const retKey, tail = `"ret":`, "}}}"
	if !bytes.Contains(msg, []byte(`"type":"ACK"`)) || !bytes.HasSuffix(msg, []byte(tail)) {
		return 0, "", false
	}
	t, ok := numberAfter(msg, `"token":`)
	i := bytes.Index(msg, []byte(retKey))
	if !ok || i < 0 {
		return 0, "", false
	}
	r, err := unquoteBytes(msg[i+len(retKey) : len(msg)-len(tail)])
	if err != nil {
		return 0, "", false
	}
	return t, string(r), true
}

// stringAfter returns the string (without escapes) that follows key.
func stringAfter(msg []byte, key string) (string, bool) {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return "", false
	}
	rest := msg[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
		return "", false
	}
	return string(rest[:j]), true
}

// numberAfter returns the unsigned integer that follows key.
func numberAfter(msg []byte, key string) (uint64, bool) {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := msg[i+len(key):]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(rest[:j]), 10, 64)
	return n, err == nil
}

func (c *plainCaller) call(ctx context.Context, to, arg string) (string, error) {
	token := c.next.Add(1)
	ch := make(chan plainAnswer, 1)
	c.mu.Lock()
	c.waiting[token] = ch
	c.mu.Unlock()
	frame := make([]byte, 0, 128+len(arg))
	frame = append(frame, `{"action":"sendmessage","to":`...)
	frame = append(frame, sio.String(to)...)
	frame = append(frame, `,"id":`...)
	frame = strconv.AppendUint(frame, token, 10)
	frame = append(frame, `,"payload":{"type":"REQ","data":{"token":`...)
	frame = strconv.AppendUint(frame, token, 10)
	frame = append(frame, `,"name":"echo","args":[`...)
	frame = append(frame, sio.String(arg)...)
	frame = append(frame, "]}}}"...)
	c.writeMu.Lock()
	err := c.ws.WriteMessage(websocket.TextMessage, frame)
	c.writeMu.Unlock()
	if err != nil {
		c.forget(token)
		return "", fmt.Errorf("write: %w", err)
	}
	select {
	case a := <-ch:
		return a.ret, a.err
	case <-ctx.Done():
		c.forget(token)
		return "", ctx.Err()
	case <-c.done:
		return "", fmt.Errorf("connection lost: %w", c.err)
	}
}

func (c *plainCaller) forget(token uint64) {
	c.mu.Lock()
	delete(c.waiting, token)
	c.mu.Unlock()
}

func (c *plainCaller) close() error {
	err := c.ws.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

func (d *plainDriver) publisher(ctx context.Context) (publisher, error) {
	ws, err := d.dialPlain(ctx)
	if err != nil {
		return nil, err
	}
	p := &plainPublisher{ws: ws, done: make(chan struct{})}
	go func() { // read and drop: publish has no reply, but error frames may come
		defer close(p.done)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return p, nil
}

// plainPublisher publishes each message in a write of its own.
type plainPublisher struct {
	ws   *websocket.Conn
	mu   sync.Mutex
	buf  []byte
	done chan struct{}
}

func (p *plainPublisher) publish(_ context.Context, channel, payload string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf[:0], `{"action":"publish","channel":`...)
	p.buf = append(p.buf, sio.String(channel)...)
	p.buf = append(p.buf, `,"payload":`...)
	p.buf = append(p.buf, sio.String(payload)...)
	p.buf = append(p.buf, '}')
	return p.ws.WriteMessage(websocket.TextMessage, p.buf)
}

func (p *plainPublisher) close() error {
	err := p.ws.Close()
	<-p.done
	return err
}
