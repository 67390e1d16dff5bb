package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// readBufferSize is the size of the pooled buffered readers.
const readBufferSize = 4096

// readChunk bounds how much of a frame's declared length is allocated before
// the bytes arrive.
const readChunk = 32 << 10

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// source is the socket as the reader sees it: bytes that came with the
// handshake first, then the socket, with read deadlines turned into
// decisions by onTimeout (a timeout that decides nothing is retried).
type source struct{ c *conn }

func (s source) Read(p []byte) (int, error) {
	c := s.c
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		if len(c.early) == 0 {
			c.early = nil
		}
		return n, nil
	}
	c.flushHeld() // the read may block
	if c.inFrame && c.frameDeadline == 0 && !c.lingering && c.gw.opts.FrameTimeout > 0 {
		// The reader waits for the rest of a started frame: from now on
		// the frame has FrameTimeout to arrive (see onTimeout). A deadline
		// armed already for an earlier moment stands; when it passes,
		// onTimeout re-arms for this one.
		c.frameDeadline = time.Now().UnixNano() + int64(c.gw.opts.FrameTimeout)
		if c.deadline == 0 || c.deadline > c.frameDeadline {
			c.setReadDeadline(c.frameDeadline)
		}
	}
	for {
		n, err := c.read(p)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		if err := c.onTimeout(); err != nil {
			return 0, err
		}
	}
}

// read reads from the socket, through rawsock when it is plain TCP.
func (c *conn) read(p []byte) (int, error) {
	if c.lp != nil {
		return c.readLooped(p)
	}
	if c.raw != nil {
		return rawsock.Read(c.raw, p)
	}
	return c.netConn.Read(p)
}

func (c *conn) acquireReader() {
	if c.reader == nil {
		c.reader = readerPool.Get().(*bufio.Reader)
		c.reader.Reset(source{c})
	}
}

func (c *conn) releaseReader() {
	if c.reader != nil {
		c.reader.Reset(nil)
		readerPool.Put(c.reader)
		c.reader = nil
	}
}

// Errors of the read side that close the connection with a status.
var (
	errTooBig       = errors.New("message too big")
	errFrameTimeout = errors.New("frame not completed in time")
)

type protocolError struct{ err error }

func (e protocolError) Error() string { return "protocol error: " + e.err.Error() }

// peerClosed is the client's close frame.
type peerClosed struct{ status ws.StatusCode }

func (e peerClosed) Error() string { return "closed by client" }

// readOne reads and handles one message; ok is false when the connection
// ends.
func (c *conn) readOne() (end ending, ok bool) {
	op, msg, err := c.readMessage()
	if err != nil {
		return c.endingFor(err), false
	}
	if op != ws.OpText {
		c.replyError(c.readCtx(), wire.CodeBadRequest, "binary frames are not supported: send text frames", nil)
		return end, true
	}
	ok = c.handle(c.readCtx(), *msg)
	putBuffer(&messagePool, msg)
	if !ok {
		return ending{status: closeInvalidPayload, reason: "text message is not valid UTF-8", initiated: true}, false
	}
	return end, true
}

// readCtx is the context the reader hands a message on with: the
// gateway's, marked when more messages are buffered behind it so that the
// frames they cause leave together.
func (c *conn) readCtx() context.Context {
	if c.buffered() {
		return c.gw.batchCtx
	}
	return c.gw.ctx
}

// handle parses one text message once and hands it to the integration
// under ctx (see readCtx). It returns false, handing nothing on, for a
// message that is not valid UTF-8, which ends the connection with status
// 1007 (RFC 6455 §8.1): wire.Parse checks the encoding as it scans, so
// nothing checks it twice.
func (c *conn) handle(ctx context.Context, body []byte) bool {
	var frame wire.Frame
	ev, valid := c.event(body, &frame)
	if valid {
		c.serveEvent(ctx, &ev)
	}
	return valid
}

// event parses a text message into frame and returns its event; valid is
// false for a message that is not valid UTF-8. A message that does not
// parse otherwise is an event without a Frame, which the relay answers
// bad_request.
func (c *conn) event(body []byte, frame *wire.Frame) (ev relay.Event, valid bool) {
	ev = relay.Event{ConnectionID: c.id, Route: wire.RouteDefault, Body: body, Identity: c.identity()}
	f, err := wire.Parse(body)
	switch {
	case err == nil:
		*frame = f
		ev.Frame, ev.Route = frame, f.Route()
	case wire.IsInvalidUTF8(err):
		return ev, false
	}
	return ev, true
}

// serveEvent counts a parsed message and hands it to the integration under
// ctx (a reader's, or an event loop's), or refuses it over the message
// rate.
func (c *conn) serveEvent(ctx context.Context, ev *relay.Event) {
	g := c.gw
	g.metrics.messageIn(ev.Route)
	c.received(ev)
	if g.opts.MessageRate > 0 && !c.allow() {
		var id []byte
		if ev.Frame != nil {
			id = ev.Frame.ID
		}
		c.replyError(ctx, wire.CodeRateLimited, "message rate limit exceeded", id)
	} else if err := g.integration.Handle(ctx, *ev); err != nil {
		g.log.Error("handle message", "connection", c.id, "route", ev.Route, "err", err)
	}
}

// buffered reports whether bytes of the next frame have arrived already
// (reader only).
func (c *conn) buffered() bool {
	return c.headerRead || len(c.early) > 0 || (c.reader != nil && c.reader.Buffered() > 0)
}

// allow takes a token from the connection's message-rate bucket.
func (c *conn) allow() bool {
	opts := &c.gw.opts
	now := time.Now().UnixNano()
	c.tokens = min(float64(opts.MessageBurst), c.tokens+float64(now-c.tokensAt)/1e9*opts.MessageRate)
	c.tokensAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// replyError sends the connection an error frame of the gateway's own, as
// a frame sent under ctx is sent (see sendModeOf).
func (c *conn) replyError(ctx context.Context, code wire.Code, message string, id []byte) {
	c.gw.metrics.countError(code)
	var scratch [256]byte
	frame := wire.AppendError(scratch[:0], code, message, id, "")
	mode, round := sendModeOf(ctx)
	c.traceOut(frame, c.enqueue(ws.OpText, frame, true, mode, round))
}

// endingFor maps the error that ended the read loop to a close.
func (c *conn) endingFor(err error) ending {
	var closed peerClosed
	var protocol protocolError
	switch {
	case errors.Is(err, errTooBig):
		return ending{status: closeMessageTooBig, reason: "message too big", initiated: true}
	case errors.As(err, &protocol):
		return ending{status: closeProtocolError, reason: protocol.err.Error(), initiated: true}
	case errors.As(err, &closed):
		status := uint16(closed.status)
		if status == 0 {
			status = closeNormal
		}
		return ending{status: status, reason: "closed by client"}
	case errors.Is(err, errIdle):
		return ending{status: closeGoingAway, reason: "idle timeout", initiated: true}
	case errors.Is(err, errMaxAge):
		return ending{status: closeGoingAway, reason: "connection age limit", initiated: true}
	case errors.Is(err, errFrameTimeout):
		return ending{status: closePolicyViolation, reason: "frame not completed within " + c.gw.opts.FrameTimeout.String(), initiated: true}
	case errors.Is(err, errCloseAsked):
		reason := "closed by server"
		if p := c.closeReason.Load(); p != nil {
			reason = *p
		}
		return ending{status: uint16(c.closeStatus.Load()), reason: reason, initiated: true}
	}
	if werr := c.writeError(); werr != nil {
		return ending{reason: "write failed", err: werr}
	}
	return ending{reason: "connection lost", err: err}
}

// readMessage reads the next data message, reassembling fragments and
// answering control frames on the way. A text message comes back in a
// pooled buffer; a binary one is discarded (msg is nil).
func (c *conn) readMessage() (op ws.OpCode, msg *[]byte, err error) {
	state := ws.StateServerSide
	limit := int64(c.gw.opts.MaxMessageSize)
	var total int64
	defer func() {
		if err != nil && msg != nil {
			putBuffer(&messagePool, msg)
			msg = nil
		}
	}()
	for {
		h, err := c.readHeader()
		if err != nil {
			return op, msg, err
		}
		c.touch()
		if err := ws.CheckHeader(h, state); err != nil {
			return op, msg, protocolError{err}
		}
		if h.OpCode.IsControl() {
			if err := c.control(h); err != nil {
				return op, msg, err
			}
			c.frameDone()
			continue
		}
		c.flushHeld() // the message goes to the integration, which may take its time
		if h.Length > limit-total {
			c.skip = h.Length
			return op, msg, errTooBig
		}
		total += h.Length
		if h.OpCode != ws.OpContinuation {
			op = h.OpCode
		}
		if op == ws.OpText {
			if msg == nil {
				msg = getBuffer(&messagePool)
			}
			*msg, err = wsframe.ReadPayload(c.reader, *msg, h, readChunk)
		} else {
			_, err = c.reader.Discard(int(h.Length))
		}
		if err != nil {
			return op, msg, err
		}
		c.frameDone()
		if h.Fin {
			return op, msg, nil
		}
		state = state.Set(ws.StateFragmented)
	}
}

// readHeader reads a frame header, starting from what readFirst read if it
// did. When no bytes are buffered it waits for the first two bytes straight
// from the socket, holding no buffer meanwhile, and borrows a pooled reader
// once they arrive.
func (c *conn) readHeader() (h ws.Header, err error) {
	b := c.header[:]
	switch {
	case c.headerRead:
	case c.reader == nil || c.reader.Buffered() == 0:
		c.releaseReader()
		if err := c.readStart(); err != nil {
			return h, err
		}
	default:
		c.inFrame = true
		if _, err := io.ReadFull(c.reader, b[:2]); err != nil {
			return h, err
		}
	}
	c.headerRead = false
	c.acquireReader()
	size := wsframe.HeaderSize(b[1])
	if _, err := io.ReadFull(c.reader, b[2:size]); err != nil {
		return h, err
	}
	if h, err = wsframe.ParseHeader(b[:size]); err != nil {
		return h, protocolError{err}
	}
	return h, nil
}

// readStart reads the first two bytes of a frame into c.header straight
// from the socket, holding no buffer. The frame has started once its first
// byte has arrived: from then on, its rest is bounded by FrameTimeout.
func (c *conn) readStart() error {
	n, err := source{c}.Read(c.header[:2])
	c.waiting = false
	if n > 0 {
		c.inFrame = true
	}
	if err == nil && n < 2 {
		_, err = io.ReadFull(source{c}, c.header[n:2])
	}
	return err
}

// frameDone ends the frame the reader has read whole: FrameTimeout no
// longer applies.
func (c *conn) frameDone() { c.inFrame, c.frameDeadline = false, 0 }

// control handles a ping, pong or close frame (CheckHeader has bounded its
// length to 125 bytes).
func (c *conn) control(h ws.Header) error {
	n := int(h.Length)
	p, err := c.reader.Peek(n)
	if err != nil {
		return err
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	switch h.OpCode {
	case ws.OpPing:
		c.ping(p)
	case ws.OpClose:
		if n == 1 {
			return protocolError{errors.New("close frame payload of 1 byte")}
		}
		status, reason := ws.ParseCloseFrameData(p)
		if !status.Empty() {
			if err := ws.CheckCloseFrameData(status, reason); err != nil {
				return protocolError{err}
			}
		}
		_, _ = c.reader.Discard(n)
		return peerClosed{status}
	}
	_, err = c.reader.Discard(n)
	return err
}

// ping answers a ping whose payload is p (still in the read buffer). A
// ping costs a token of the message rate as a message does, so a flood of
// pings is limited like one of messages; over the limit it is dropped
// unanswered and counted (an error frame would answer a control frame with
// a text frame the client did not ask for, and a pong is only ever a
// liveness check, which the next ping within the rate answers).
//
// While more bytes are buffered behind the ping, its pong is held in the
// queue (sendHeld) and leaves with whatever follows, in one write, once the
// reader has read what is buffered (flushHeld): a flood of pings costs a
// write per read rather than a system call per pong. A full queue drops
// the pong.
func (c *conn) ping(p []byte) {
	if c.gw.opts.MessageRate > 0 && !c.allow() {
		c.gw.metrics.dropped("ping_rate_limited", 1)
		return
	}
	mode := sendNow
	if len(c.early) > 0 || c.reader.Buffered() > len(p) {
		mode = sendHeld
	}
	if c.enqueue(ws.OpPong, p, true, mode, nil) == nil && mode == sendHeld {
		c.held = true
	}
}
