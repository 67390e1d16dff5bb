package gateway

import (
	"context"
	"os"
	"sync"
	"syscall"
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

// sendMode says how enqueue sends a frame.
type sendMode uint8

const (
	// sendNow writes the frame at once when the connection is idle.
	sendNow sendMode = iota
	// sendQueued queues the frame and starts the writer when none runs:
	// more frames follow at once, and they should leave together.
	sendQueued
	// sendHeld queues the frame and leaves starting the writer to the
	// reader, which alone may use it, for its next flushHeld.
	sendHeld
	// sendRound queues the frame for the event loop whose round is
	// handling the message that caused it: the loop writes every
	// connection's frames of the round once the round's messages are
	// handled (see loop.flush).
	sendRound
)

// sendModeOf is how a frame sent under ctx is sent: in the round of the
// event loop or Batch that marked ctx, queued when ctx is marked by a reader or
// MoreToFollow, and otherwise written at once.
func sendModeOf(ctx context.Context) (sendMode, *round) {
	switch v := ctx.Value(batchKey{}).(type) {
	case nil:
		return sendNow, nil
	case *loop:
		return sendRound, &v.round
	case *Batch:
		return sendRound, &v.round
	}
	return sendQueued, nil
}

// send queues a text frame from the Sender, or writes it at once, as ctx
// says (see sendModeOf and enqueue).
func (c *conn) send(ctx context.Context, data []byte) error {
	mode, round := sendModeOf(ctx)
	err := c.enqueue(ws.OpText, data, true, mode, round)
	c.traceOut(data, err)
	return err
}

// enqueue sends a frame without ever blocking on the socket. A limited
// frame is refused with rate_limited when the queue is full; control frames
// of the close handshake are not limited.
//
// With sendNow, when the connection is idle (nothing queued, no writer
// running), the calling goroutine writes the frame itself with one
// non-blocking system call (writeNow): no goroutine is started and the frame
// leaves before the caller returns. Otherwise, or when the socket does not
// take it all, the frame is queued, framed, and the writer goroutine is
// started when none runs. Callers pass sendQueued when they know more
// frames follow at once (the reader has more messages buffered), so that
// those leave together in one write; the reader passes sendHeld for frames
// of its own that must wait for the writer until it has read what is
// buffered (see conn.ping). With sendRound, round is the event loop's or
// Batch's that writes the frame when it is flushed, unless a writer is
// running.
func (c *conn) enqueue(op ws.OpCode, data []byte, limited bool, mode sendMode, round *round) error {
	size := wsframe.FrameSize(len(data))
	opts := &c.gw.opts
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return goneError(c.id)
	}
	queued := c.flightBytes + c.pending.bytes
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
	if mode == sendNow && !c.writing && c.pending.empty() && (c.raw != nil || c.lp != nil) {
		// Idle: no writer, and nothing queued (frames held by the reader
		// must leave first).
		c.writing = true
		c.writers.Add(1)
		c.flightFrames, c.flightBytes = 1, size
		c.mu.Unlock()
		return c.writeNow(op, data, limited)
	}
	// A round's frame to a connection with nothing else waiting leaves at
	// the end of the round, as one written at once would now: like
	// writeNow's, it is not refused for the queues of others (it is
	// counted while it waits, as theirs is when the socket does not take
	// it).
	roundOnly := mode == sendRound && !c.writing && (c.pending.empty() || c.inRound)
	if !c.gw.reserveQueued(size, limited && !roundOnly) {
		c.mu.Unlock()
		c.gw.metrics.dropped("max_queued_bytes", 1)
		return errQueuedBytes
	}
	c.pending.appendFrame(op, data)
	c.pendingFrames++
	if op == ws.OpText {
		c.pendingTexts++
	}
	if mode == sendRound {
		mark := !c.writing && !c.inRound
		c.inRound = c.inRound || mark
		c.mu.Unlock()
		if mark {
			round.add(c)
		}
		return nil
	}
	start := !c.writing && mode != sendHeld
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

// flushHeld starts the writer for the frames the reader queued with
// sendHeld, unless another sender's frame started it since (reader only).
// The reader calls it before a read that may block and before it hands a
// message on, so held frames never wait for the client or the integration.
func (c *conn) flushHeld() {
	if !c.held {
		return
	}
	c.held = false
	c.mu.Lock()
	start := !c.pending.empty() && !c.writing
	if start {
		c.writing = true
		c.writers.Add(1)
	}
	c.mu.Unlock()
	if start {
		go c.writeLoop()
	}
}

// writeNow writes one frame from the calling goroutine, which enqueue made
// the connection's writer: c.writing is set and the frame is counted in
// flight. The socket gets one non-blocking write. What it does not take goes
// to the front of the queue, ahead of the frames queued meanwhile, and the
// writer goroutine takes over, as it does when frames were queued meanwhile;
// otherwise the connection is idle again. A failed write breaks the
// connection as it does in writeLoop. When the socket takes none of a
// limited frame and the server's queues hold MaxQueuedBytes already, the
// frame is refused (errQueuedBytes) as it would have been if queued.
func (c *conn) writeNow(op ws.OpCode, data []byte, limited bool) error {
	buf := getBuffer(&writePool)
	*buf = wsframe.AppendFrame(*buf, op, data)
	n, err := c.tryWrite(*buf)
	if n > 0 {
		c.touch()
	}
	c.mu.Lock()
	c.flightFrames, c.flightBytes = 0, 0
	var refused error
	written := false
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
		return nil // accepted, then lost with the connection, as in writeLoop
	case n < len(*buf):
		// Only a frame the socket took none of can still be refused.
		if !c.gw.reserveQueued(len(*buf)-n, limited && n == 0) {
			refused = errQueuedBytes
			putBuffer(&writePool, buf)
			break
		}
		*buf = (*buf)[:copy(*buf, (*buf)[n:])]
		c.pending.prepend(buf)
		c.pendingFrames++
		if op == ws.OpText {
			c.pendingTexts++
		}
	default:
		putBuffer(&writePool, buf)
		written = true
	}
	idle := c.pending.empty()
	if idle {
		c.writing = false
	}
	c.mu.Unlock()
	if refused != nil {
		c.gw.metrics.dropped("max_queued_bytes", 1)
	}
	if written && op == ws.OpText {
		c.gw.metrics.messagesOut.Inc()
	}
	if idle {
		c.writers.Done()
		return refused
	}
	go c.writeLoop() // inherits writing and the writers count
	return refused
}

// queueClose queues the close frame after whatever is queued; nothing can
// be queued after it.
func (c *conn) queueClose(status uint16, reason string) {
	var scratch [ws.MaxControlFramePayloadSize]byte
	_ = c.enqueue(ws.OpClose, wsframe.AppendCloseBody(scratch[:0], ws.StatusCode(status), reason), false, sendNow, nil)
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
	c.gw.unqueued(c.pending.bytes)
	c.pending.release()
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
		if c.pending.empty() || c.broken {
			c.writing = false
			c.mu.Unlock()
			return
		}
		queue, texts := c.pending, c.pendingTexts
		c.flightFrames, c.flightBytes = c.pendingFrames, queue.bytes
		c.pending, c.pendingFrames, c.pendingTexts = sendQueue{}, 0, 0
		c.mu.Unlock()

		err := c.write(&queue)
		c.gw.unqueued(queue.bytes)
		queue.release()

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
	c.breakSocket()
}

// tryWrite makes one write that never blocks (see rawsock.TryWrite): 0 when
// the socket's send buffer is full.
func (c *conn) tryWrite(b []byte) (int, error) {
	if c.lp == nil {
		return rawsock.TryWrite(c.raw, b)
	}
	n, err := rawsock.WriteFD(c.fd, b)
	if err == syscall.EAGAIN {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("write", err)
	}
	return n, nil
}

// write writes the queue q to the socket within WriteTimeout.
func (c *conn) write(q *sendQueue) error {
	if c.lp != nil {
		return c.writeLooped(q)
	}
	err := c.netConn.SetWriteDeadline(time.Now().Add(c.gw.opts.WriteTimeout))
	if err != nil {
		return err
	}
	if err := q.writeTo(c.netConn); err != nil {
		return err
	}
	c.touch()
	return nil
}

// round is the connections that have frames queued with sendRound since it
// was last flushed, each to be written with one system call then: an event
// loop's round, or a Batch.
type round struct {
	mu    sync.Mutex
	dirty []*conn
	spare []*conn // dirty's other slice
}

// add puts c on the round's list (enqueue calls it for c's first frame
// queued with sendRound).
func (r *round) add(c *conn) {
	r.mu.Lock()
	r.dirty = append(r.dirty, c)
	r.mu.Unlock()
}

// flush writes every connection the frames queued for it in the round.
func (r *round) flush() {
	r.mu.Lock()
	dirty := r.dirty
	r.dirty = r.spare[:0]
	r.mu.Unlock()
	for i, c := range dirty {
		dirty[i] = nil
		c.flushRound()
	}
	r.mu.Lock()
	r.spare = dirty[:0]
	r.mu.Unlock()
}

// A Batch writes the frames sent under its context together: each
// connection's frames wait until Flush, which writes them with one system
// call (from the calling goroutine, unless a writer goroutine has the
// connection already, or the socket does not take them all). It is for a
// caller with many deliveries to make at once, such as a node handing on
// a batch of messages from another node: no goroutine is woken per
// connection, and a connection's frames leave in one write wherever they
// sit in the batch. Frames sent under its context must be flushed, soon:
// until then they wait. One goroutine uses a Batch at a time.
type Batch struct {
	round round
	ctx   context.Context
}

// NewBatch returns a Batch whose context is ctx, marked.
func NewBatch(ctx context.Context) *Batch {
	b := &Batch{}
	b.ctx = context.WithValue(ctx, batchKey{}, b)
	return b
}

// Context returns the context to send the batch's frames under.
func (b *Batch) Context() context.Context { return b.ctx }

// Flush writes the frames sent under the batch's context since the last
// Flush.
func (b *Batch) Flush() { b.round.flush() }

// flushRound writes the frames queued for c in a round with one
// system call, unless a writer is running (it takes them). What the
// socket does not take goes to a writer goroutine.
func (c *conn) flushRound() {
	c.mu.Lock()
	c.inRound = false
	if c.writing || c.pending.empty() || c.broken || c.fdClosed {
		c.mu.Unlock()
		return
	}
	c.writing = true
	c.writers.Add(1)
	if len(c.pending.more) > 0 {
		c.mu.Unlock()
		go c.writeLoop() // more than a chunk: writev from a goroutine
		return
	}
	queue, texts, frames := c.pending, c.pendingTexts, c.pendingFrames
	c.flightFrames, c.flightBytes = frames, queue.bytes
	c.pending, c.pendingFrames, c.pendingTexts = sendQueue{}, 0, 0
	c.mu.Unlock()

	buf := queue.head
	n, err := c.tryWrite(*buf)
	if n > 0 {
		c.touch()
	}
	c.gw.unqueued(n)
	c.mu.Lock()
	c.flightFrames, c.flightBytes = 0, 0
	switch {
	case err != nil:
		c.broken, c.closed, c.writeErr = true, true, err
		c.gw.unqueued(len(*buf) - n)
		dropped := int(texts) + c.dropPendingLocked()
		c.writing = false
		c.mu.Unlock()
		putChunk(buf)
		c.writeFailed(err, dropped)
		c.writers.Done()
		return
	case n < len(*buf):
		*buf = (*buf)[:copy(*buf, (*buf)[n:])]
		c.pending.prepend(buf)
		c.pendingFrames += frames
		c.pendingTexts += texts
		c.mu.Unlock()
		go c.writeLoop() // inherits writing and the writers count
		return
	}
	idle := c.pending.empty()
	if idle {
		c.writing = false
	}
	c.mu.Unlock()
	putChunk(buf)
	c.gw.metrics.messagesOut.Add(float64(texts))
	if idle {
		c.writers.Done()
		return
	}
	go c.writeLoop() // frames queued meanwhile by others
}
