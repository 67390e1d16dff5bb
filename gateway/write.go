package gateway

import (
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/wsframe"
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

// send queues a text frame from the Sender, or writes it at once (see
// enqueue) unless batch says that more frames are about to follow.
func (c *conn) send(data []byte, batch bool) error {
	err := c.enqueue(ws.OpText, data, true, !batch)
	c.traceOut(data, err)
	return err
}

// enqueue sends a frame without ever blocking on the socket. A limited
// frame is refused with rate_limited when the queue is full; control frames
// of the close handshake are not limited.
//
// When now is set and the connection is idle (nothing queued, no writer
// running), the calling goroutine writes the frame itself with one
// non-blocking system call (writeNow): no goroutine is started and the frame
// leaves before the caller returns. Otherwise, or when the socket does not
// take it all, the frame is queued, framed, and the writer goroutine is
// started when none runs. Callers clear now when they know more frames
// follow at once (the reader has more messages buffered), so that those
// leave together in one write.
func (c *conn) enqueue(op ws.OpCode, data []byte, limited, now bool) error {
	size := wsframe.FrameSize(len(data))
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
		return wire.NewError(wire.CodeRateLimited, "send queue of connection "+c.id+" is full")
	}
	if op == ws.OpClose {
		c.closed = true
	} else if op == ws.OpText {
		c.countOutLocked(len(data))
	}
	if now && !c.writing && c.raw != nil {
		// Idle: without a writer nothing is queued (see writeLoop).
		c.writing = true
		c.writers.Add(1)
		c.flightFrames, c.flightBytes = 1, size
		c.mu.Unlock()
		c.writeNow(op, data)
		return nil
	}
	if c.pending == nil {
		c.pending = getBuffer(&writePool)
	}
	*c.pending = wsframe.AppendFrame(*c.pending, op, data)
	c.pendingFrames++
	if op == ws.OpText {
		c.pendingTexts++
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

// writeNow writes one frame from the calling goroutine, which enqueue made
// the connection's writer: c.writing is set and the frame is counted in
// flight. The socket gets one non-blocking write. What it does not take goes
// to the front of the queue, ahead of the frames queued meanwhile, and the
// writer goroutine takes over, as it does when frames were queued meanwhile;
// otherwise the connection is idle again. A failed write breaks the
// connection as it does in writeLoop.
func (c *conn) writeNow(op ws.OpCode, data []byte) {
	buf := getBuffer(&writePool)
	*buf = wsframe.AppendFrame(*buf, op, data)
	n, err := rawsock.TryWrite(c.raw, *buf)
	if n > 0 {
		c.touch()
	}
	c.mu.Lock()
	c.flightFrames, c.flightBytes = 0, 0
	switch {
	case err != nil:
		c.broken, c.closed, c.writeErr = true, true, err
		dropped := c.dropPendingLocked()
		if op == ws.OpText {
			dropped++
		}
		c.writing = false
		c.mu.Unlock()
		putBuffer(&writePool, buf)
		c.writeFailed(err, dropped)
		c.writers.Done()
		return
	case n < len(*buf):
		rest := (*buf)[:copy(*buf, (*buf)[n:])]
		if c.pending != nil {
			rest = append(rest, *c.pending...)
			putBuffer(&writePool, c.pending)
		}
		*buf = rest
		c.pending = buf
		c.pendingFrames++
		if op == ws.OpText {
			c.pendingTexts++
		}
	default:
		putBuffer(&writePool, buf)
		buf = nil
	}
	idle := c.pending == nil
	if idle {
		c.writing = false
	}
	c.mu.Unlock()
	if buf == nil && op == ws.OpText {
		c.gw.metrics.messagesOut.Inc()
	}
	if idle {
		c.writers.Done()
		return
	}
	go c.writeLoop() // inherits writing and the writers count
}

// queueClose queues the close frame after whatever is queued; nothing can
// be queued after it.
func (c *conn) queueClose(status uint16, reason string) {
	_ = c.enqueue(ws.OpClose, ws.NewCloseFrameBody(ws.StatusCode(status), reason), false, true)
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
// idle connection has no writer and nothing queued. A write that fails or
// blocks past WriteTimeout closes the socket, which ends the reader too.
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
			c.writeFailed(err, dropped)
			continue
		}
		c.gw.metrics.messagesOut.Add(float64(texts))
	}
}

// writeFailed counts the frames a failed write lost and closes the socket,
// which ends the reader too.
func (c *conn) writeFailed(err error, dropped int) {
	c.gw.metrics.dropped("write_failed", dropped)
	c.gw.log.Debug("write failed", "connection", c.id, "err", err)
	_ = c.netConn.Close()
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
