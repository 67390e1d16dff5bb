package gateway

import (
	"encoding/binary"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/wire"
)

// maxPooledBuffer is the largest buffer put back in a pool; larger ones are
// left to the garbage collector.
const maxPooledBuffer = 256 << 10

var (
	writePool   sync.Pool // *[]byte: framed bytes queued for a connection
	messagePool sync.Pool // *[]byte: a client message being read
)

func getBuffer(pool *sync.Pool) *[]byte {
	if b, ok := pool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, 1024)
	return &b
}

func putBuffer(pool *sync.Pool, b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		pool.Put(b)
	}
}

// send queues a text frame from the Sender.
func (c *conn) send(data []byte) error { return c.enqueue(ws.OpText, data, true) }

// enqueue appends a frame to the send queue, already framed, and starts the
// writer goroutine when none runs. It never blocks on the socket. A limited
// frame is refused with rate_limited when the queue is full; control frames
// of the close handshake are not limited.
func (c *conn) enqueue(op ws.OpCode, data []byte, limited bool) error {
	size := len(data) + headerSize(len(data))
	opts := &c.gw.opts
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return goneError(c.id)
	}
	queued := c.flightBytes
	if c.pending != nil {
		queued += len(*c.pending)
	}
	full := int(c.pendingFrames+c.flightFrames) >= opts.SendQueueFrames ||
		(queued > 0 && queued+size > opts.SendQueueBytes)
	if limited && full {
		c.mu.Unlock()
		c.gw.metrics.dropped("queue_full", 1)
		return wire.Errorf(wire.CodeRateLimited, "send queue of connection "+c.id+" is full")
	}
	if c.pending == nil {
		c.pending = getBuffer(&writePool)
	}
	*c.pending = appendFrame(*c.pending, op, data)
	c.pendingFrames++
	switch op {
	case ws.OpText:
		c.pendingTexts++
	case ws.OpClose:
		c.closed = true
	}
	start := !c.writing
	if start {
		c.writing = true
		c.writers.Add(1)
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// queueClose queues the close frame after whatever is queued; nothing can
// be queued after it.
func (c *conn) queueClose(status uint16, reason string) {
	_ = c.enqueue(ws.OpClose, closePayload(status, reason), false)
}

// discard ends sending on a connection whose socket failed, dropping what is
// queued.
func (c *conn) discard() {
	c.mu.Lock()
	c.closed = true
	dropped := c.dropPendingLocked()
	c.mu.Unlock()
	c.gw.metrics.dropped("closed", dropped)
}

func (c *conn) dropPendingLocked() int {
	dropped := int(c.pendingTexts)
	if c.pending != nil {
		putBuffer(&writePool, c.pending)
		c.pending = nil
	}
	c.pendingFrames, c.pendingTexts = 0, 0
	return dropped
}

// writeOK reports whether no write has failed.
func (c *conn) writeOK() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.broken
}

// writeError returns the error of the failed write, if one failed.
func (c *conn) writeError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeErr
}

// writeLoop is the writer goroutine. It takes everything queued at once and
// writes it with one call, until the queue is empty; then it exits, so an
// idle connection has no writer. A write that fails or blocks past
// WriteTimeout closes the socket, which ends the reader too.
func (c *conn) writeLoop() {
	defer c.writers.Done()
	for {
		c.mu.Lock()
		buf := c.pending
		if buf == nil || c.broken {
			c.writing = false
			c.mu.Unlock()
			return
		}
		texts := c.pendingTexts
		c.flightFrames, c.flightBytes = c.pendingFrames, len(*buf)
		c.pending, c.pendingFrames, c.pendingTexts = nil, 0, 0
		c.mu.Unlock()

		err := c.write(*buf)
		putBuffer(&writePool, buf)

		c.mu.Lock()
		c.flightFrames, c.flightBytes = 0, 0
		dropped := 0
		if err != nil {
			c.broken, c.closed, c.writeErr = true, true, err
			dropped = int(texts) + c.dropPendingLocked()
		}
		c.mu.Unlock()
		if err != nil {
			c.gw.metrics.dropped("write_failed", dropped)
			c.gw.log.Debug("write failed", "connection", c.id, "err", err)
			_ = c.netConn.Close()
			continue
		}
		c.gw.metrics.messagesOut.Add(float64(texts))
	}
}

// write writes b to the socket within WriteTimeout.
func (c *conn) write(b []byte) error {
	err := c.netConn.SetWriteDeadline(time.Now().Add(c.gw.opts.WriteTimeout))
	if err != nil {
		return err
	}
	if _, err := c.netConn.Write(b); err != nil {
		return err
	}
	c.touch()
	return nil
}

// headerSize is the size of an unmasked frame header for a payload of n bytes.
func headerSize(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// appendFrame appends an unmasked, final server frame.
func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	n := len(payload)
	b0 := 0x80 | byte(op)
	switch {
	case n < 126:
		dst = append(dst, b0, byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// closePayload is the payload of a close frame: the status and a reason cut
// to fit a control frame.
func closePayload(status uint16, reason string) []byte {
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), status)
	return append(p, reason[:min(len(reason), ws.MaxControlFramePayloadSize-2)]...)
}
