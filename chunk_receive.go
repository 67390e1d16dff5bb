package monologue

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/wire"
)

// chunkState holds the chunked transfers of a client, both ways. Its zero
// value is ready. The reader goroutine is the only one to add incoming
// transfers and chunks; timers only remove them.
type chunkState struct {
	mu       sync.Mutex
	outgoing map[uint64]*outgoingTransfer
	incoming map[incomingKey]*incomingTransfer
	reserved int    // bytes of the budget held by incoming transfers
	scratch  []byte // decoded chunk, reader goroutine only
}

// incomingKey names a transfer received: the sender and its token.
type incomingKey struct {
	peer  string
	token string
}

// incomingTransfer is a chunked message being received.
type incomingTransfer struct {
	cn       *connection
	peer     string
	token    []byte // the sender's token, raw JSON, echoed
	id       uint64 // frame id of our CHUNK_ACK and CHUNK_ERR frames
	size     int
	chunk    int
	chunks   int
	data     []byte // allocated with the first chunk
	got      []bool
	received int
	deadline time.Time
	timer    *time.Timer
}

// handleChunk handles a chunking frame from peer: a chunk or a cancel (as
// receiver), an acknowledgement or an error (as sender).
func (c *Client) handleChunk(cn *connection, peer string, env rpcEnvelope) {
	switch env.kind {
	case 'C':
		c.receiveChunk(cn, peer, env)
	case 'Z':
		c.dropIncoming(incomingKey{peer: peer, token: tokenKey(env.token)}, nil)
	case 'K':
		stream, ok := parseToken(env.token)
		received, err := strconv.Atoi(string(env.received))
		if ok && err == nil {
			c.credit(peer, stream, received)
		}
	case 'X':
		if stream, ok := parseToken(env.token); ok {
			code, message := parseErrorObject(env.errorObject)
			c.endOutgoing(stream, peer, &transferError{code: code, message: message})
		}
	}
}

// openIncoming answers the offer of a chunked message (a request for
// "$chunked") from peer: it accepts it within the budget, or refuses it.
func (c *Client) openIncoming(cn *connection, peer string, env rpcEnvelope) {
	token := clone(env.token)
	id := c.nextID.Add(1)
	refuse := func(code wire.Code, message string) {
		b := appendChunkFrame(nil, peer, id, "ERR", token)
		c.writeControl(cn, appendChunkError(b, string(code), message))
	}
	if !c.chunking() {
		refuse(CodeNotFound, "no handler for method "+strconv.Quote(chunkMethod)+": chunking is off")
		return
	}
	var spec []struct {
		Size   int `json:"size"`
		Chunks int `json:"chunks"`
		Chunk  int `json:"chunk"`
	}
	if err := json.Unmarshal(env.args, &spec); err != nil || len(spec) == 0 ||
		spec[0].Size < 1 || spec[0].Chunk < 1 || spec[0].Chunks != (spec[0].Size+spec[0].Chunk-1)/spec[0].Chunk {
		refuse(wire.CodeBadRequest, "malformed offer of a chunked message: want [{size,chunks,chunk}] with chunks = ⌈size/chunk⌉")
		return
	}
	s := spec[0]
	key := incomingKey{peer: peer, token: tokenKey(token)}
	budget := c.opts.ChunkBudget

	c.chunks.mu.Lock()
	c.sweepLocked()
	_, exists := c.chunks.incoming[key]
	switch {
	case s.Size > budget:
		c.chunks.mu.Unlock()
		refuse(wire.CodePayloadTooLarge, fmt.Sprintf("a chunked message of %d bytes is over the budget of %d", s.Size, budget))
		return
	case exists:
		c.chunks.mu.Unlock()
		refuse(wire.CodeBadRequest, "a chunked transfer with this token is already open")
		return
	case c.chunks.reserved+s.Size > budget || len(c.chunks.incoming) >= maxIncomingTransfers:
		c.chunks.mu.Unlock()
		refuse(wire.CodeRateLimited, fmt.Sprintf("a chunked message of %d bytes does not fit now: %d of the budget of %d bytes are in use",
			s.Size, c.chunks.reserved, budget))
		return
	}
	t := &incomingTransfer{
		cn: cn, peer: peer, token: token, id: id,
		size: s.Size, chunk: s.Chunk, chunks: s.Chunks,
		got:      make([]bool, s.Chunks),
		deadline: time.Now().Add(c.opts.ChunkTimeout),
	}
	if c.chunks.incoming == nil {
		c.chunks.incoming = make(map[incomingKey]*incomingTransfer)
	}
	c.chunks.incoming[key] = t
	c.chunks.reserved += s.Size
	t.timer = time.AfterFunc(c.opts.ChunkTimeout, func() { c.expireIncoming(key, t) })
	c.chunks.mu.Unlock()

	b := appendChunkFrame(nil, peer, id, "ACK", token)
	b = append(b, `,"ret":{"window":`...)
	b = strconv.AppendInt(b, int64(chunkWindow(s.Chunk)), 10)
	c.writeControl(cn, append(b, "}}}}"...))
}

// receiveChunk places a chunk, acknowledges it and, with the last one,
// handles the message put back together.
func (c *Client) receiveChunk(cn *connection, peer string, env rpcEnvelope) {
	key := incomingKey{peer: peer, token: tokenKey(env.token)}
	c.chunks.mu.Lock()
	t := c.chunks.incoming[key]
	if t == nil || t.cn != cn {
		c.chunks.mu.Unlock()
		b := appendChunkFrame(nil, peer, c.nextID.Add(1), "CHUNK_ERR", env.token)
		c.writeControl(cn, appendChunkError(b, CodeNotFound, "no chunked transfer with this token"))
		return
	}
	seq, err := strconv.Atoi(string(env.seq))
	if err != nil || seq < 0 || seq >= t.chunks || !plainString(env.chunk) {
		c.chunks.mu.Unlock()
		c.failIncoming(key, t, string(wire.CodeBadRequest), "malformed chunk")
		return
	}
	if t.got[seq] {
		c.chunks.mu.Unlock()
		return
	}
	want := min(t.chunk, t.size-seq*t.chunk)
	src := env.chunk[1 : len(env.chunk)-1]
	if len(src) != base64.StdEncoding.EncodedLen(want) {
		c.chunks.mu.Unlock()
		c.failIncoming(key, t, string(wire.CodeBadRequest), fmt.Sprintf("chunk %d has %d bytes of base64, want %d", seq, len(src), base64.StdEncoding.EncodedLen(want)))
		return
	}
	scratch := c.chunks.scratch[:0]
	if cap(scratch) < base64.StdEncoding.DecodedLen(len(src)) {
		scratch = make([]byte, 0, base64.StdEncoding.DecodedLen(len(src)))
	}
	scratch = scratch[:base64.StdEncoding.DecodedLen(len(src))]
	n, err := base64.StdEncoding.Decode(scratch, src)
	if cap(scratch) <= 256<<10 {
		c.chunks.scratch = scratch
	}
	if err != nil || n != want {
		c.chunks.mu.Unlock()
		c.failIncoming(key, t, string(wire.CodeBadRequest), fmt.Sprintf("chunk %d is not base64 of %d bytes", seq, want))
		return
	}
	if t.data == nil {
		t.data = make([]byte, t.size)
	}
	copy(t.data[seq*t.chunk:], scratch[:n])
	t.got[seq] = true
	t.received++
	t.deadline = time.Now().Add(c.opts.ChunkTimeout)
	t.timer.Reset(c.opts.ChunkTimeout)
	received, complete := t.received, t.received == t.chunks
	if complete {
		c.removeIncomingLocked(key, t)
	}
	c.chunks.mu.Unlock()

	if complete && (!utf8.Valid(t.data) || !json.Valid(t.data)) {
		c.writeControl(cn, appendChunkError(appendChunkFrame(nil, peer, t.id, "CHUNK_ERR", t.token),
			string(wire.CodeBadRequest), "the message put back together is not valid UTF-8 JSON"))
		return
	}
	b := appendChunkFrame(nil, peer, t.id, "CHUNK_ACK", t.token)
	b = append(b, `,"received":`...)
	b = strconv.AppendInt(b, int64(received), 10)
	c.writeControl(cn, append(b, "}}}"...))
	if complete {
		c.handleReassembled(cn, peer, t.data)
	}
}

// handleReassembled handles a payload put back together as if it had been
// delivered whole by peer.
func (c *Client) handleReassembled(cn *connection, peer string, payload []byte) {
	if env, ok := parseRPC(payload); ok {
		switch {
		case env.kind == 'C' || env.kind == 'K' || env.kind == 'X' || env.kind == 'Z',
			env.kind == 'Q' && string(env.name) == chunkMethodJSON:
			c.log.Debug("monologue: dropped a chunked message that is itself a chunking frame", "from", peer)
			return
		}
		c.handleRPC(cn, wire.AppendString(nil, peer), env)
		return
	}
	c.deliver(Message{From: peer, Payload: payload})
}

// failIncoming drops a transfer and tells its sender why (CHUNK_ERR).
func (c *Client) failIncoming(key incomingKey, t *incomingTransfer, code, message string) {
	c.chunks.mu.Lock()
	if c.chunks.incoming[key] != t {
		c.chunks.mu.Unlock()
		return
	}
	c.removeIncomingLocked(key, t)
	c.chunks.mu.Unlock()
	if c.isClosed() {
		return
	}
	c.writeControl(t.cn, appendChunkError(appendChunkFrame(nil, t.peer, t.id, "CHUNK_ERR", t.token), code, message))
}

// expireIncoming drops a transfer that received no chunk for
// Options.ChunkTimeout. It runs on the transfer's timer.
func (c *Client) expireIncoming(key incomingKey, t *incomingTransfer) {
	c.chunks.mu.Lock()
	expired := c.chunks.incoming[key] == t && !time.Now().Before(t.deadline)
	received := t.received
	c.chunks.mu.Unlock()
	if expired {
		c.failIncoming(key, t, "timeout", fmt.Sprintf("no chunk for %v (%d of %d received)",
			c.opts.ChunkTimeout, received, t.chunks))
	}
}

// dropIncoming forgets a transfer received, without a word to its sender.
func (c *Client) dropIncoming(key incomingKey, t *incomingTransfer) {
	c.chunks.mu.Lock()
	if found := c.chunks.incoming[key]; found != nil && (t == nil || found == t) {
		c.removeIncomingLocked(key, found)
	}
	c.chunks.mu.Unlock()
}

// dropIncomingByID forgets the transfer whose frames have id (their sender
// is gone); it reports whether there was one.
func (c *Client) dropIncomingByID(id uint64) bool {
	c.chunks.mu.Lock()
	defer c.chunks.mu.Unlock()
	for key, t := range c.chunks.incoming {
		if t.id == id {
			c.removeIncomingLocked(key, t)
			return true
		}
	}
	return false
}

func (c *Client) removeIncomingLocked(key incomingKey, t *incomingTransfer) {
	delete(c.chunks.incoming, key)
	c.chunks.reserved -= t.size
	t.timer.Stop()
}

// sweepLocked forgets the transfers of connections that have ended.
func (c *Client) sweepLocked() {
	for key, t := range c.chunks.incoming {
		select {
		case <-t.cn.done:
			c.removeIncomingLocked(key, t)
		default:
		}
	}
}

// writeControl sends a chunking frame of the receiving side.
func (c *Client) writeControl(cn *connection, frame []byte) {
	if err := cn.writer.write(c.ctx, ws.OpText, frame); err != nil {
		c.log.Debug("monologue: could not send a chunking frame", "error", err)
	}
}

// tokenKey is a token's text without quotes, so that 7 and "7" name the same
// transfer.
func tokenKey(raw []byte) string {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	return string(raw)
}
