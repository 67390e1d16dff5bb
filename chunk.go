package monologue

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/wire"
)

// Chunked transfers (the Chunking section of wire/PROTOCOL.md): a payload
// whose frame would be over Options.MaxSendSize is offered to the peer with
// a request for the reserved method "$chunked" and, once the peer accepts,
// sent in parts that it acknowledges; the peer puts it back together and
// handles it as if it had arrived whole. This file holds the sending side;
// chunk_receive.go the receiving side.

// Defaults of the chunking fields of [Options].
const (
	DefaultChunkBudget  = 64 << 20
	DefaultChunkTimeout = 30 * time.Second
)

// ErrChunkingUnsupported matches an operation whose payload was over
// Options.MaxSendSize and that the peer did not accept in parts: it does
// not speak chunking (it has no method "$chunked", or never answered), or
// the client's own chunking is off (Options.ChunkBudget < 0 still sends
// nothing chunked).
var ErrChunkingUnsupported = errors.New("monologue: the peer does not accept chunked messages")

const (
	// chunkMethod is the reserved method of the open request.
	chunkMethod = "$chunked"
	// chunkMethodJSON is chunkMethod as a JSON string literal.
	chunkMethodJSON = `"$chunked"`
	// maxIncomingTransfers bounds the transfers a client receives at once.
	maxIncomingTransfers = 256
	// chunkWindowBytes is about how many bytes of chunks a receiver lets a
	// sender have unacknowledged.
	chunkWindowBytes = 512 << 10
	// chunkHeadroom is room left in each chunk frame for the difference
	// between the frame sent and the frame the peer receives.
	chunkHeadroom = 256
)

// longestID is as long as a connection ID (16 characters) with room to
// spare, for sizing the parts of a transfer offered to a name.
const longestID = "________________________"

// outgoingTransfer is a chunked transfer being sent; the reader goroutine
// updates received and err (under chunkState.mu) and then signals.
type outgoingTransfer struct {
	peer     string
	signal   chan struct{} // 1-buffered
	received int           // the largest count the peer acknowledged
	err      error         // why the transfer ended early
	ended    bool          // the receiver or the gateway ended it: no CHUNK_CANCEL
}

// chunking reports whether the client sends and accepts chunked messages.
func (c *Client) chunking() bool {
	return c.opts.ChunkBudget >= 0 && c.opts.MaxSendSize > 0
}

// chunkSize returns the number of payload bytes in each chunk sent to peer,
// so that a chunk's frame stays within Options.MaxSendSize.
func (c *Client) chunkSize(peer string) int {
	overhead := len(`{"action":"sendmessage","to":`) + len(wire.AppendString(nil, peer)) +
		len(`,"id":`) + 20 + len(`,"payload":{"type":"CHUNK","data":{"token":`) + 20 +
		len(`,"seq":`) + 10 + len(`,"data":""}}}`) + chunkHeadroom
	return (c.opts.MaxSendSize - overhead) / 4 * 3
}

// chunkWindow is the window a receiver gives for chunks of size bytes.
func chunkWindow(size int) int {
	return max(1, chunkWindowBytes/((size+2)/3*4+128))
}

// sendChunked sends payload, the JSON text of a payload, to peer as a
// chunked transfer and returns once the peer has acknowledged every chunk.
func (c *Client) sendChunked(ctx context.Context, cn *connection, peer string, payload []byte) error {
	size := len(payload)
	sizedFor := peer
	if isName(peer) && len(peer) < len(longestID) {
		// The parts go to the holder that accepts the offer, by its ID.
		sizedFor = longestID
	}
	chunk := c.chunkSize(sizedFor)
	if chunk < 1 {
		return wire.NewError(wire.CodePayloadTooLarge, fmt.Sprintf(
			"a payload of %d bytes is over the limit, which is too small to send it in parts (Options.MaxSendSize is %d)",
			size, c.opts.MaxSendSize))
	}
	chunks := (size + chunk - 1) / chunk
	stream := c.nextID.Add(1)
	spec := fmt.Sprintf(`{"size":%d,"chunks":%d,"chunk":%d}`, size, chunks, chunk)
	open, err := appendRequest(nil, peer, stream, chunkMethod, []any{json.RawMessage(spec)})
	if err != nil {
		return err
	}

	out := &outgoingTransfer{peer: peer, signal: make(chan struct{}, 1)}
	c.chunks.mu.Lock()
	if c.chunks.outgoing == nil {
		c.chunks.outgoing = make(map[uint64]*outgoingTransfer)
	}
	c.chunks.outgoing[stream] = out
	c.chunks.mu.Unlock()
	defer func() {
		c.chunks.mu.Lock()
		delete(c.chunks.outgoing, stream)
		c.chunks.mu.Unlock()
	}()

	ch := replyChannels.Get().(chan reply)
	c.addPending(stream, peer, ch)
	if err := cn.writer.write(ctx, ws.OpText, open); err != nil {
		if c.removePending(stream) {
			replyChannels.Put(ch)
		}
		return err
	}
	r, err := c.await(ctx, stream, ch)
	if err == nil {
		err = r.err
	}
	if err != nil {
		return openError(size, err)
	}
	var accept struct {
		Window int `json:"window"`
	}
	if json.Unmarshal(r.ret, &accept) != nil || accept.Window < 1 {
		return fmt.Errorf("%w: it answered the offer of a chunked message with %.100s", ErrChunkingUnsupported, r.ret)
	}
	if isName(peer) {
		// One holder of the name accepted: the parts and their
		// acknowledgements go between it and this client, by ID, so that
		// they are not spread over the holders.
		c.chunks.mu.Lock()
		out.peer = r.from
		c.chunks.mu.Unlock()
		peer = r.from
	}

	err = c.sendChunks(ctx, cn, out, stream, payload, chunk, chunks, accept.Window)
	if err != nil {
		c.chunks.mu.Lock()
		ended := out.ended
		c.chunks.mu.Unlock()
		if !ended {
			c.cancelTransfer(cn, peer, stream, err)
		}
	}
	return err
}

// openError explains why the offer of a chunked message of size bytes was
// not accepted.
func openError(size int, err error) error {
	var remote *RemoteError
	var timeout *timeoutError
	switch {
	case errors.As(err, &timeout):
		return fmt.Errorf("%w: no answer to the offer of a chunked message of %d bytes within %v (it does not speak chunking, or is not responding): %w",
			ErrChunkingUnsupported, size, timeout.after, context.DeadlineExceeded)
	case errors.As(err, &remote):
		switch wire.Code(remote.Code) {
		case wire.CodePayloadTooLarge, wire.CodeRateLimited, wire.CodeBadRequest:
			return wire.NewError(wire.Code(remote.Code), fmt.Sprintf("the peer refused a chunked message of %d bytes: %s", size, remote.Message))
		}
		return fmt.Errorf("%w: it answered the offer of a chunked message with %s: %s", ErrChunkingUnsupported, remote.Code, remote.Message)
	}
	return err
}

// sendChunks sends the chunks of an accepted transfer, never more than
// window ahead of the peer's acknowledgements, and waits for the last one.
func (c *Client) sendChunks(ctx context.Context, cn *connection, out *outgoingTransfer, stream uint64,
	payload []byte, chunk, chunks, window int) error {
	buffer := make([]byte, 0, 160+len(out.peer)+base64.StdEncoding.EncodedLen(chunk))
	for seq := range chunks {
		if err := c.awaitCredit(ctx, cn, out, seq-window+1, chunks); err != nil {
			return err
		}
		b := appendChunkFrame(buffer[:0], out.peer, stream, "CHUNK", strconv.AppendUint(nil, stream, 10))
		b = append(b, `,"seq":`...)
		b = strconv.AppendInt(b, int64(seq), 10)
		b = append(b, `,"data":"`...)
		b = base64.StdEncoding.AppendEncode(b, payload[seq*chunk:min((seq+1)*chunk, len(payload))])
		b = append(b, `"}}}`...)
		if err := cn.writer.write(ctx, ws.OpText, b); err != nil {
			return err
		}
		buffer = b
	}
	return c.awaitCredit(ctx, cn, out, chunks, chunks)
}

// awaitCredit waits until the peer has acknowledged need chunks, for
// Options.CallTimeout at most since the last acknowledgement.
func (c *Client) awaitCredit(ctx context.Context, cn *connection, out *outgoingTransfer, need, chunks int) error {
	var timer *time.Timer
	var timeout <-chan time.Time
	stall := c.opts.CallTimeout
	for {
		c.chunks.mu.Lock()
		err, received := out.err, out.received
		c.chunks.mu.Unlock()
		if err != nil {
			return err
		}
		if received >= need {
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		if timer == nil && stall > 0 {
			timer = time.NewTimer(stall)
			defer timer.Stop()
			timeout = timer.C
		}
		select {
		case <-out.signal:
			if timer != nil {
				timer.Reset(stall)
			}
		case <-ctx.Done():
			return contextError(ctx)
		case <-cn.done:
			return disconnected(cn.err)
		case <-timeout:
			return fmt.Errorf("the peer acknowledged no chunk for %v (%d of %d received): %w",
				stall, received, chunks, context.DeadlineExceeded)
		}
	}
}

// cancelTransfer tells the peer that the sender gave up (CHUNK_CANCEL).
func (c *Client) cancelTransfer(cn *connection, peer string, stream uint64, cause error) {
	token := strconv.AppendUint(nil, stream, 10)
	b := appendChunkFrame(nil, peer, stream, "CHUNK_CANCEL", token)
	b = appendChunkError(b, "aborted", cause.Error())
	if err := cn.writer.write(c.ctx, ws.OpText, b); err != nil {
		c.log.Debug("monologue: could not cancel a chunked transfer", "peer", peer, "error", err)
	}
}

// credit records an acknowledgement (CHUNK_ACK) of the transfer stream
// from peer.
func (c *Client) credit(peer string, stream uint64, received int) {
	c.chunks.mu.Lock()
	out := c.chunks.outgoing[stream]
	if out == nil || out.peer != peer || received <= out.received {
		c.chunks.mu.Unlock()
		return
	}
	out.received = received
	c.chunks.mu.Unlock()
	signal(out.signal)
}

// endOutgoing ends the transfer stream with err; from is the peer that
// reports it, or "" for the gateway. It reports whether there was such a
// transfer.
func (c *Client) endOutgoing(stream uint64, from string, err error) bool {
	c.chunks.mu.Lock()
	out := c.chunks.outgoing[stream]
	if out == nil || (from != "" && out.peer != from) {
		c.chunks.mu.Unlock()
		return false
	}
	if out.err == nil {
		out.err, out.ended = err, true
	}
	c.chunks.mu.Unlock()
	signal(out.signal)
	return true
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// chunkFrameError takes a gateway error frame whose id is no pending
// operation's: it may be about a chunk sent (the id of a transfer sent) or
// an acknowledgement (the id of a transfer received). It reports whether it
// was.
func (c *Client) chunkFrameError(id uint64, err error) bool {
	if c.endOutgoing(id, "", err) {
		return true
	}
	return c.dropIncomingByID(id)
}

// appendChunkFrame appends the start of a chunking frame to peer:
// {"action":"sendmessage","to":PEER,"id":ID,"payload":{"type":TYPE,"data":{"token":TOKEN
// The caller appends the rest of data and "}}}".
func appendChunkFrame(b []byte, peer string, id uint64, kind string, token []byte) []byte {
	b = append(b, `{"action":"sendmessage","to":`...)
	b = wire.AppendString(b, peer)
	b = append(b, `,"id":`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `,"payload":{"type":"`...)
	b = append(b, kind...)
	b = append(b, `","data":{"token":`...)
	return append(b, token...)
}

// appendChunkError ends a chunking frame with its error object.
func appendChunkError(b []byte, code, message string) []byte {
	b = append(b, `,"error":{"code":`...)
	b = wire.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = wire.AppendString(b, message)
	return append(b, "}}}}"...)
}

// transferError is the end of a chunked transfer as reported by its
// receiver (CHUNK_ERR). It matches the wire sentinel of its code, and
// context.DeadlineExceeded for "timeout".
type transferError struct {
	code, message string
}

func (e *transferError) Error() string {
	return "the peer dropped the chunked message: " + e.code + ": " + e.message
}

func (e *transferError) Is(target error) bool {
	if t, ok := target.(*wire.Error); ok {
		return string(t.Code) == e.code
	}
	return target == context.DeadlineExceeded && e.code == "timeout"
}

// framePayload returns the payload of a frame built by appendRequest,
// {"action":"sendmessage","to":TO,"id":T,"payload":PAYLOAD}. The first
// `,"payload":` is the key's: inside the string TO every quote is escaped.
func framePayload(frame []byte) []byte {
	i := bytes.Index(frame, []byte(`,"payload":`))
	return frame[i+len(`,"payload":`) : len(frame)-1]
}
