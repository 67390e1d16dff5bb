package monologue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/wire"
)

// HandlerFunc answers a call. Its result is sent to the caller as JSON
// (json.RawMessage passes through unchanged); an error is sent as
// "handler_error" with the error's text, except [ErrNotFound], sent as
// "not_found", and [ErrRateLimited] and [ErrPayloadTooLarge], sent with
// their codes (a result over Options.MaxSendSize is the latter). A panic is
// recovered, logged and sent as "handler_error". ctx is cancelled when the
// client is closed.
type HandlerFunc func(ctx context.Context, req *Request) (any, error)

// handler is a registered method; its name is reused for the Method of
// requests, so that a request does not allocate it.
type handler struct {
	method string
	fn     HandlerFunc
}

// Request is an incoming call.
type Request struct {
	From   string            // the caller's connection ID
	Method string            // the method called
	Args   []json.RawMessage // the arguments, as raw JSON

	handler *handler // nil: none registered
	token   []byte   // the caller's token, raw JSON, echoed in the answer
	args    []byte   // the raw JSON array of arguments
	backing [4]json.RawMessage
}

// Bind decodes the arguments into dst, in order, as json.Unmarshal does: the
// first argument into dst[0], and so on. A nil dst skips its argument;
// arguments beyond dst are ignored; fewer arguments than dst is an error.
func (r *Request) Bind(dst ...any) error {
	if len(r.Args) < len(dst) {
		return fmt.Errorf("monologue: method %q takes %d arguments, got %d", r.Method, len(dst), len(r.Args))
	}
	for i, v := range dst {
		if err := decodeValue(r.Args[i], v); err != nil {
			return fmt.Errorf("monologue: method %q: argument %d: %w", r.Method, i+1, err)
		}
	}
	return nil
}

// Handle registers fn to answer calls of method, replacing any handler it
// had; a nil fn removes it. It fails with an error matching
// ErrTooManyHandlers when Options.MaxHandlers methods already have one.
// Handlers run in their own goroutines, at most
// Options.MaxConcurrentHandlers at once.
func (c *Client) Handle(method string, fn HandlerFunc) error {
	if method == "" {
		return errors.New("monologue: handle: empty method name")
	}
	if method == chunkMethod {
		return errors.New("monologue: handle: " + chunkMethod + " is reserved for chunked messages")
	}
	c.handlersMu.Lock()
	defer c.handlersMu.Unlock()
	handlers := *c.handlers.Load()
	if _, ok := handlers[method]; !ok && fn != nil && len(handlers) >= c.opts.MaxHandlers {
		return wrap("handle "+strconv.Quote(method),
			fmt.Errorf("%w (Options.MaxHandlers is %d)", ErrTooManyHandlers, c.opts.MaxHandlers))
	}
	handlers = maps.Clone(handlers)
	if fn == nil {
		delete(handlers, method)
	} else {
		handlers[method] = &handler{method: method, fn: fn}
	}
	c.handlers.Store(&handlers)
	return nil
}

// Call calls method on the peer whose connection ID is to, with args, and
// decodes its return value into result (a pointer, as for json.Unmarshal;
// nil to ignore it; *json.RawMessage to keep it raw).
//
// It fails at once with an error matching ErrNotFound when the peer has no
// such method, ErrHandler when the handler failed (a *RemoteError tells the
// code and message), and ErrGone when to is not connected. With no reply
// within Options.CallTimeout (or before ctx's earlier deadline) it fails with
// an error matching context.DeadlineExceeded.
//
// Only a reply sent by the peer called answers the call: a reply from any
// other peer carrying the same token is ignored.
//
// A request over Options.MaxSendSize is sent in parts (a chunked transfer,
// see Options.ChunkBudget), and so may the result be: the call then fails
// with an error matching ErrChunkingUnsupported when the peer does not
// accept chunked messages. CallTimeout then bounds the peer's answer to the
// offer, each wait for its acknowledgement of a part, and the wait for the
// result.
func (c *Client) Call(ctx context.Context, to, method string, args []any, result any) error {
	cn, err := c.current()
	if err != nil {
		return callError(to, method, err)
	}
	token := c.nextID.Add(1)
	buffer := buffers.Get().(*[]byte)
	frame, err := appendRequest((*buffer)[:0], to, token, method, args)
	chunked := false
	if err != nil {
		err = fmt.Errorf("encode the arguments: %w", err)
	} else if err = c.checkSize(frame, "frame"); err != nil && c.chunking() {
		chunked, err = true, nil
	}
	if err != nil {
		putBuffer(buffer, frame)
		return callError(to, method, err)
	}
	ch := replyChannels.Get().(chan reply)
	c.addPending(token, to, ch)
	if chunked {
		err = c.sendChunked(ctx, cn, to, framePayload(frame))
	} else {
		err = cn.writer.write(ctx, ws.OpText, frame)
	}
	putBuffer(buffer, frame)
	if err != nil {
		if c.removePending(token) {
			replyChannels.Put(ch)
		}
		return callError(to, method, err)
	}
	r, err := c.await(ctx, token, ch)
	if err == nil {
		err = r.err
	}
	if err != nil {
		if remote, ok := err.(*RemoteError); ok {
			remote.Peer, remote.Method = to, method
			return remote
		}
		return callError(to, method, err)
	}
	if err := decodeValue(r.ret, result); err != nil {
		return callError(to, method, fmt.Errorf("decode the result: %w", err))
	}
	return nil
}

func callError(to, method string, err error) error {
	return wrap("call "+strconv.Quote(method)+" on "+to, err)
}

// appendRequest appends the sendmessage frame of a call:
// {"action":"sendmessage","to":TO,"id":T,"payload":{"type":"REQ","data":{"token":T,"name":M,"args":[…]}}}.
// The frame id is the token, so an error frame about it fails the call.
func appendRequest(b []byte, to string, token uint64, method string, args []any) ([]byte, error) {
	b = append(b, `{"action":"sendmessage","to":`...)
	b = wire.AppendString(b, to)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, token, 10)
	b = append(b, `,"payload":{"type":"REQ","data":{"token":`...)
	b = strconv.AppendUint(b, token, 10)
	b = append(b, `,"name":`...)
	b = wire.AppendString(b, method)
	b = append(b, `,"args":`...)
	b, err := appendArray(b, args)
	return append(b, "}}}"...), err
}

// buffers recycles the buffers frames are built in.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func putBuffer(buffer *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*buffer = b[:0]
		buffers.Put(buffer)
	}
}

// handleRPC handles an RPC payload received from a peer. A reply answers a
// call only when it comes from the peer called.
func (c *Client) handleRPC(cn *connection, from []byte, env rpcEnvelope) {
	switch env.kind {
	case 'A':
		token, ok := parseToken(env.token)
		peer := cn.peerID(from)
		ok = ok && peer != "" // "" would pass for the gateway in complete
		ret := env.ret
		if ret == nil {
			ret = []byte("null")
		}
		if !ok || !c.complete(token, peer, reply{ret: append([]byte(nil), ret...)}) {
			c.log.Debug("monologue: ignored a reply to no pending call", "token", string(env.token))
		}
	case 'E':
		token, ok := parseToken(env.token)
		peer := cn.peerID(from)
		ok = ok && peer != ""
		code, message := parseErrorObject(env.errorObject)
		if code == "" {
			code = CodeHandlerError
		}
		if !ok || !c.complete(token, peer, reply{err: &RemoteError{Code: code, Message: message}}) {
			c.log.Debug("monologue: ignored an error reply to no pending call", "token", string(env.token))
		}
	case 'C', 'K', 'X', 'Z':
		if from != nil {
			c.handleChunk(cn, cn.peerID(from), env)
		}
	case 'Q':
		if from == nil {
			return
		}
		if string(env.name) == chunkMethodJSON {
			c.openIncoming(cn, cn.peerID(from), env)
			return
		}
		raw := make([]byte, len(env.token)+len(env.args))
		n := copy(raw, env.token)
		copy(raw[n:], env.args)
		req := &Request{From: cn.peerID(from), token: raw[:n:n], args: raw[n:]}
		handlers := *c.handlers.Load()
		if plainString(env.name) {
			req.handler = handlers[string(env.name[1:len(env.name)-1])] // no allocation
		}
		if req.handler != nil {
			req.Method = req.handler.method
		} else {
			req.Method = jsonString(env.name)
			req.handler = handlers[req.Method]
		}
		if !c.acquireSlot() {
			c.answer(cn, req, nil, wire.NewError(wire.CodeRateLimited, fmt.Sprintf(
				"too many requests in progress (Options.MaxConcurrentHandlers is %d)", c.opts.MaxConcurrentHandlers)))
			return
		}
		go c.serve(cn, req)
	}
}

// acquireSlot takes a handler slot. When all are taken it yields once, so
// that handlers which are runnable but have not run yet (the reader can
// outpace them on a busy machine) may finish and give theirs back; it never
// waits longer, so the reader never stalls on slow handlers.
func (c *Client) acquireSlot() bool {
	for attempt := 0; ; attempt++ {
		select {
		case c.slots <- struct{}{}:
			return true
		default:
		}
		if attempt == 1 {
			return false
		}
		runtime.Gosched()
	}
}

// serve runs a handler and sends its answer.
func (c *Client) serve(cn *connection, req *Request) {
	defer func() { <-c.slots }()
	ret, err := c.invoke(req)
	c.answer(cn, req, ret, err)
}

var errNoHandler = fmt.Errorf("%w: no handler for this method", ErrNotFound)

func (c *Client) invoke(req *Request) (ret any, err error) {
	fn := c.opts.Fallback
	if req.handler != nil {
		fn = req.handler.fn
	}
	if fn == nil {
		return nil, errNoHandler
	}
	if len(req.args) > 0 {
		if req.Args, err = splitArray(req.args, req.backing[:0]); err != nil {
			return nil, errors.New("malformed arguments: not a JSON array")
		}
	}
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("monologue: handler panicked", "method", req.Method, "panic", p, "stack", string(debug.Stack()))
			ret, err = nil, fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return fn(c.ctx, req)
}

// answer sends the ACK or ERR of a request to its caller.
func (c *Client) answer(cn *connection, req *Request, ret any, err error) {
	buffer := buffers.Get().(*[]byte)
	b := append((*buffer)[:0], `{"action":"sendmessage","to":`...)
	b = wire.AppendString(b, req.From)
	b = append(b, `,"payload":{"type":"`...)
	mark := len(b)
	if err == nil {
		b = append(b, `ACK","data":{"token":`...)
		b = append(b, req.token...)
		b = append(b, `,"ret":`...)
		var encodeErr error
		if b, encodeErr = appendValue(b, ret); encodeErr != nil {
			b, err = b[:mark], fmt.Errorf("encode the result: %w", encodeErr)
		} else if sizeErr := c.checkSize(append(b, "}}}"...), "answer"); sizeErr != nil {
			if !c.chunking() {
				b, err = b[:mark], sizeErr
			} else if chunkErr := c.sendChunked(c.ctx, cn, req.From, append(b, "}}"...)[mark-len(`{"type":"`):]); chunkErr == nil {
				putBuffer(buffer, b)
				return
			} else {
				b, err = b[:mark], wire.NewError(wire.CodePayloadTooLarge, fmt.Sprintf(
					"the result of %d bytes is over the limit, and could not be sent in parts: %v", len(b)-mark, chunkErr))
			}
		}
	}
	if err != nil {
		b = append(b, `ERR","data":{"token":`...)
		b = append(b, req.token...)
		b = append(b, `,"error":{"code":`...)
		b = wire.AppendString(b, errorCode(err))
		b = append(b, `,"message":`...)
		if wireErr, ok := err.(*wire.Error); ok {
			b = wire.AppendString(b, wireErr.Message)
		} else if err == errNoHandler || err == ErrNotFound {
			b = wire.AppendString(b, "no handler for method "+strconv.Quote(req.Method))
		} else {
			b = wire.AppendString(b, strings.TrimPrefix(err.Error(), "monologue: "))
		}
		b = append(b, '}')
	}
	b = append(b, "}}}"...)
	if err := cn.writer.write(c.ctx, ws.OpText, b); err != nil {
		c.log.Debug("monologue: could not answer a call", "method", req.Method, "from", req.From, "error", err)
	}
	putBuffer(buffer, b)
}

// errorCode is the RPC error code for a handler's error. The failure of a
// call the handler made itself is a handler_error, whatever its code.
func errorCode(err error) string {
	var remote *RemoteError
	switch {
	case errors.As(err, &remote):
		return CodeHandlerError
	case errors.Is(err, ErrNotFound):
		return CodeNotFound
	case errors.Is(err, ErrRateLimited):
		return string(wire.CodeRateLimited)
	case errors.Is(err, ErrPayloadTooLarge):
		return string(wire.CodePayloadTooLarge)
	}
	return CodeHandlerError
}
