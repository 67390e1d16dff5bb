package monologue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/wire"
)

// Message is a direct message that is not RPC, or a message of a subscribed
// channel, as received by Options.OnMessage.
type Message struct {
	// From is the sender's connection ID; "" for a message from the
	// gateway itself: a broadcast (HTTP POST /channels/{channel}, with a
	// Channel), or a frame posted to this connection through the management
	// API (POST @connections), which has no Channel either and whose
	// Payload is the whole frame (as it is when it is JSON, else as a JSON
	// string).
	From string
	// Channel is the channel the message was published to; "" for a direct
	// message.
	Channel string
	// Payload is the payload exactly as the sender encoded it; nil when it
	// sent none. It belongs to the receiver.
	Payload json.RawMessage
	// Via is the name ("@name") the sender addressed the message to, when
	// it reached this client as a holder of that name; "" otherwise.
	Via string
}

// Bind decodes the payload into v, as json.Unmarshal does.
func (m Message) Bind(v any) error {
	if m.Payload == nil {
		return errors.New("monologue: message has no payload")
	}
	return decodeValue(m.Payload, v)
}

// Send sends payload to the peer whose connection ID is to; it receives it
// in Options.OnMessage. payload is encoded as JSON (json.RawMessage passes
// through unchanged; nil sends no payload). Send does not wait for the
// peer: it fails only when the message cannot be queued; the gateway's
// errors about it (a gone peer, for instance) are logged.
//
// A payload over Options.MaxSendSize is sent in parts (see
// Options.ChunkBudget): Send then returns once the peer has acknowledged
// every part, and fails with an error matching ErrChunkingUnsupported when
// the peer does not accept chunked messages.
func (c *Client) Send(ctx context.Context, to string, payload any) error {
	return c.fireAndForget(ctx, "send to "+to, `{"action":"sendmessage","to":`, to, payload, true)
}

// Publish sends payload to every other subscriber of channel. Like Send, it
// does not wait for delivery.
func (c *Client) Publish(ctx context.Context, channel string, payload any) error {
	if err := checkChannel(channel); err != nil {
		return wrap("publish to "+strconv.Quote(channel), err)
	}
	return c.fireAndForget(ctx, "publish to "+strconv.Quote(channel), `{"action":"publish","channel":`, channel, payload, false)
}

// fireAndForget sends prefix, target and payload as a frame; one over
// Options.MaxSendSize is sent chunked when chunkable (a direct message).
func (c *Client) fireAndForget(ctx context.Context, op, prefix, target string, payload any, chunkable bool) error {
	cn, err := c.current()
	if err != nil {
		return wrap(op, err)
	}
	buffer := buffers.Get().(*[]byte)
	b := append((*buffer)[:0], prefix...)
	b = wire.AppendString(b, target)
	start := 0 // of the payload; 0: none
	if payload != nil {
		b = append(b, `,"payload":`...)
		start = len(b)
		if b, err = appendValue(b, payload); err != nil {
			putBuffer(buffer, b)
			return wrap(op, fmt.Errorf("encode the payload: %w", err))
		}
	}
	b = append(b, '}')
	if err = c.checkSize(b, "frame"); err == nil {
		err = cn.writer.write(ctx, ws.OpText, b)
	} else if chunkable && start > 0 && c.chunking() {
		err = c.sendChunked(ctx, cn, target, b[start:len(b)-1])
	}
	putBuffer(buffer, b)
	return wrap(op, err)
}

// Ping waits for the gateway to answer a round trip (a send frame, echoed).
// The gateway handles a connection's frames in order, so when Ping returns,
// every frame sent before it has been handled, and the gateway's errors
// about them (for Send and Publish) have reached Options.OnError.
func (c *Client) Ping(ctx context.Context) error {
	cn, err := c.current()
	if err == nil {
		id := c.nextID.Add(1)
		b := strconv.AppendUint([]byte(`{"action":"send","message":`), id, 10)
		err = c.roundTrip(ctx, cn, id, append(b, '}'))
	}
	return wrap("ping", err)
}

// Subscribe joins channel: the client receives what other peers publish to
// it in Options.OnMessage (and, WithPresence, who joins and leaves it in
// Options.OnPresence). It waits for the gateway's confirmation (for
// Options.CallTimeout at most, unless ctx ends earlier). With
// Options.Reconnect, the channel is subscribed again after a reconnection.
func (c *Client) Subscribe(ctx context.Context, channel string, options ...SubscribeOption) error {
	var o subscribeOptions
	for _, opt := range options {
		opt(&o)
	}
	cn, err := c.current()
	if err == nil {
		err = c.subscription(ctx, cn, "subscribe", channel, o.presence)
	}
	if err != nil {
		return wrap("subscribe to "+strconv.Quote(channel), err)
	}
	c.subscriptionsMu.Lock()
	c.subscriptions[channel] = o.presence
	c.subscriptionsMu.Unlock()
	return nil
}

// Unsubscribe leaves channel, and waits for the gateway's confirmation.
func (c *Client) Unsubscribe(ctx context.Context, channel string) error {
	c.subscriptionsMu.Lock()
	delete(c.subscriptions, channel)
	c.subscriptionsMu.Unlock()
	cn, err := c.current()
	if err == nil {
		err = c.subscription(ctx, cn, "unsubscribe", channel, false)
	}
	return wrap("unsubscribe from "+strconv.Quote(channel), err)
}

// subscription sends a subscribe or unsubscribe frame with an id and waits
// for the reply that echoes it.
func (c *Client) subscription(ctx context.Context, cn *connection, action, channel string, presence bool) error {
	if err := checkChannel(channel); err != nil {
		return err
	}
	id := c.nextID.Add(1)
	b := make([]byte, 0, 64+len(channel))
	b = append(b, `{"action":`...)
	b = wire.AppendString(b, action)
	b = append(b, `,"channel":`...)
	b = wire.AppendString(b, channel)
	if presence {
		b = append(b, `,"presence":true`...)
	}
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, id, 10)
	return c.roundTrip(ctx, cn, id, append(b, '}'))
}

// roundTrip sends frame and waits for the reply that echoes id.
func (c *Client) roundTrip(ctx context.Context, cn *connection, id uint64, frame []byte) error {
	_, err := c.roundTripResult(ctx, cn, id, frame)
	return err
}

// roundTripResult sends frame and returns the reply that echoes id: the
// whole reply frame, when the gateway answers with one that carries a
// result (presence).
func (c *Client) roundTripResult(ctx context.Context, cn *connection, id uint64, frame []byte) ([]byte, error) {
	ch := replyChannels.Get().(chan reply)
	c.addPending(id, "", ch)
	if err := cn.writer.write(ctx, ws.OpText, frame); err != nil {
		if c.removePending(id) {
			replyChannels.Put(ch)
		}
		return nil, err
	}
	r, err := c.await(ctx, id, ch)
	if err != nil {
		return nil, err
	}
	return r.ret, r.err
}

func checkChannel(channel string) error {
	switch {
	case channel == "":
		return errors.New("empty channel name")
	case len(channel) > wire.MaxChannelLength:
		return fmt.Errorf("channel name longer than %d bytes", wire.MaxChannelLength)
	}
	return nil
}

// dispatch handles a text message from the gateway. It runs on the
// connection's reader goroutine and must not block: data is only valid
// until it returns.
func (c *Client) dispatch(cn *connection, data []byte) {
	if !cn.identified {
		cn.identified = true
		cn.first <- string(data)
		return
	}
	if i := wire.SkipSpace(data, 0); i >= len(data) || data[i] != '{' {
		c.deliverRaw(data)
		return
	}
	f, err := parseServerFrame(data)
	if err != nil {
		c.log.Warn("monologue: ignored a malformed frame", "frame", string(data))
		return
	}
	switch {
	case f.errorObject != nil:
		c.gatewayError(cn, f)
	case f.action != nil:
		switch string(f.action) {
		case `"subscribed"`, `"unsubscribed"`, `"claimed"`:
			if id, ok := parseToken(f.id); ok {
				c.complete(id, "", reply{})
			}
		case `"released"`:
			if id, ok := parseToken(f.id); ok {
				c.complete(id, "", reply{})
			} else {
				c.nameLost(jsonString(f.name))
			}
		case `"presence"`:
			if id, ok := parseToken(f.id); ok {
				c.complete(id, "", reply{ret: clone(data)})
			}
		default:
			c.log.Debug("monologue: ignored a frame", "frame", string(data))
		}
	case f.message != nil:
		// The reply to Ping's send frame echoes its id as the message.
		if id, ok := parseToken(f.message); ok && c.complete(id, "", reply{}) {
			return
		}
		c.deliverRaw(data)
	case f.channel != nil && (f.joined != nil || f.left != nil):
		c.presenceEvent(PresenceEvent{Channel: jsonString(f.channel), Joined: f.joined != nil, ID: jsonString(f.joined) + jsonString(f.left)})
	case f.channel != nil:
		c.deliver(Message{From: jsonString(f.from), Channel: jsonString(f.channel), Payload: clone(f.payload)})
	case f.from != nil:
		if env, ok := parseRPC(f.payload); ok {
			c.handleRPC(cn, f.from, env)
			return
		}
		c.deliver(Message{From: cn.peerID(f.from), Payload: clone(f.payload), Via: jsonString(f.via)})
	default:
		c.deliverRaw(data)
	}
}

// deliverRaw delivers a frame that is not one of the relay's (what POST
// @connections sent as it is) as a message from the gateway: the frame is
// the payload, as it is when it is JSON, else as a JSON string.
func (c *Client) deliverRaw(data []byte) {
	c.log.Debug("monologue: a frame from the gateway", "bytes", len(data))
	if json.Valid(data) {
		c.deliver(Message{Payload: clone(data)})
		return
	}
	c.deliver(Message{Payload: wire.AppendString(nil, string(data))})
}

// gatewayError fails the operation an error frame is about, or logs it.
func (c *Client) gatewayError(cn *connection, f serverFrame) {
	code, message := parseErrorObject(f.errorObject)
	err := &wire.Error{Code: wire.Code(code), Message: message}
	if f.id != nil {
		if id, ok := parseToken(f.id); ok && (c.complete(id, "", reply{err: err}) || c.chunkFrameError(id, err)) {
			return
		}
	}
	if c.opts.OnError != nil {
		cn.inOnError.Store(true)
		defer cn.inOnError.Store(false)
		c.opts.OnError(err)
		return
	}
	c.log.Warn("monologue: the gateway reported an error", "code", code, "message", message,
		"id", string(f.id), "to", jsonString(f.to))
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// event is what the OnMessage goroutine delivers: a message, a
// reconnection, a reconnection refused for good, a presence event or a
// lost name.
type event struct {
	message     Message
	reconnected string // the new ID, for OnReconnect
	failed      error  // for OnError
	presence    *PresenceEvent
	lostName    string
}

// queueEvent queues e for the events goroutine, dropping it (counted) when
// the queue is full, as deliver does messages.
func (c *Client) queueEvent(e event) {
	select {
	case c.events <- e:
	default:
		c.dropped.Add(1)
	}
}

// deliver queues m for OnMessage, dropping it when the queue is full.
func (c *Client) deliver(m Message) {
	if c.opts.OnMessage == nil {
		return
	}
	select {
	case c.events <- event{message: m}:
	default:
		if n := c.dropped.Add(1); n&(n-1) == 0 { // log the 1st, 2nd, 4th, 8th… drop
			c.log.Warn("monologue: OnMessage is too slow; dropped messages", "dropped", n,
				"buffer", c.opts.MessageBuffer)
		}
	}
}

// dispatchEvents calls OnMessage and OnReconnect until the client is closed.
func (c *Client) dispatchEvents() {
	for {
		select {
		case <-c.closed:
			return
		case e := <-c.events:
			switch {
			case e.failed != nil:
				c.opts.OnError(e.failed)
			case e.reconnected != "":
				c.opts.OnReconnect(e.reconnected)
			case e.presence != nil:
				c.opts.OnPresence(*e.presence)
			case e.lostName != "":
				c.opts.OnNameLost(e.lostName)
			default:
				c.opts.OnMessage(e.message)
			}
		}
	}
}
