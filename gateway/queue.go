package gateway

import (
	"io"
	"net"
	"sync"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/wire"
)

// errQueuedBytes refuses a frame that would wait in a queue while the
// queues of all connections hold Options.MaxQueuedBytes.
var errQueuedBytes = wire.NewError(wire.CodeRateLimited, "the server's send queues are full")

// QueuedBytes returns the bytes waiting in the send queues of all
// connections together (the frames a writer is writing included), which
// Options.MaxQueuedBytes bounds; the gauge monologue_queued_bytes reports
// it too. It is 0 when nothing waits.
func (g *Gateway) QueuedBytes() int64 { return g.metrics.queued.Load() }

// reserveQueued counts size more bytes in the send queues. A limited frame
// is refused instead (false, nothing counted) when it would take the count
// past MaxQueuedBytes; frames of the close handshake always fit. Every
// byte counted is uncounted by unqueued when written or dropped.
func (g *Gateway) reserveQueued(size int, limited bool) bool {
	n := g.metrics.queued.Add(int64(size))
	if limited && g.opts.MaxQueuedBytes > 0 && n > g.opts.MaxQueuedBytes {
		g.metrics.queued.Add(-int64(size))
		return false
	}
	return true
}

// unqueued uncounts size bytes that left the send queues.
func (g *Gateway) unqueued(size int) {
	if size != 0 {
		g.metrics.queued.Add(-int64(size))
	}
}

// queueChunk is the most a send queue grows by at once: its first chunk
// starts as a small pooled buffer and doubles up to queueChunk bytes, and
// every chunk after it is a buffer of queueChunk bytes.
const queueChunk = 64 << 10

// sendQueue is the framed bytes waiting for a connection's writer, in
// pooled chunks. It grows a chunk at a time and never copies more than one
// chunk to grow, so a queue of megabytes is not reallocated and copied
// while it fills, nor held twice while it grows; and the writer gives every
// chunk back to a pool once written, so a queue that once held megabytes
// holds nothing after it drains (the pools keep buffers of at most
// maxPooledBuffer bytes, and only until the garbage collector empties them).
// A frame may span chunks. The zero value is an empty queue.
type sendQueue struct {
	head  *[]byte   // the first chunk; nil: the queue is empty
	more  []*[]byte // the chunks after it; every chunk but the last is full
	bytes int       // bytes in all chunks
}

// empty reports whether nothing is queued.
func (q *sendQueue) empty() bool { return q.head == nil }

// appendFrame appends a final, unmasked frame of op carrying payload.
func (q *sendQueue) appendFrame(op ws.OpCode, payload []byte) {
	var header [ws.MaxHeaderSize]byte
	q.write(wsframe.AppendHeader(header[:0], op, len(payload)))
	q.write(payload)
}

// write appends p: into the room left in the last chunk, by growing the
// first chunk while it is smaller than queueChunk, and then in new chunks.
func (q *sendQueue) write(p []byte) {
	for len(p) > 0 {
		last := q.last()
		if last == nil {
			q.head = getBuffer(&writePool)
			continue
		}
		if len(*last) == cap(*last) {
			if len(q.more) == 0 && cap(*last) < queueChunk {
				grown := make([]byte, len(*last), min(queueChunk, max(2*cap(*last), len(*last)+len(p))))
				copy(grown, *last)
				*last = grown
			} else {
				q.more = append(q.more, getChunk())
			}
			continue
		}
		n := copy((*last)[len(*last):cap(*last)], p)
		*last = (*last)[:len(*last)+n]
		q.bytes += n
		p = p[n:]
	}
}

// last returns the chunk appends go to, or nil when the queue is empty.
func (q *sendQueue) last() *[]byte {
	if len(q.more) > 0 {
		return q.more[len(q.more)-1]
	}
	return q.head
}

// prepend puts buf, framed bytes that must leave first, in front of what
// is queued; the queue takes buf over.
func (q *sendQueue) prepend(buf *[]byte) {
	if q.head != nil {
		q.more = append([]*[]byte{q.head}, q.more...)
	}
	q.head = buf
	q.bytes += len(*buf)
}

// writeTo writes the whole queue to w: with one Write call when it is one
// chunk, and otherwise as net.Buffers, which a TCP connection writes with
// one writev system call.
func (q *sendQueue) writeTo(w io.Writer) error {
	if len(q.more) == 0 {
		_, err := w.Write(*q.head)
		return err
	}
	buffers := make(net.Buffers, 0, 1+len(q.more))
	buffers = append(buffers, *q.head)
	for _, chunk := range q.more {
		buffers = append(buffers, *chunk)
	}
	_, err := buffers.WriteTo(w)
	return err
}

// release gives every chunk back to the pool and empties the queue.
func (q *sendQueue) release() {
	if q.head != nil {
		putChunk(q.head)
	}
	for _, chunk := range q.more {
		putChunk(chunk)
	}
	*q = sendQueue{}
}

// chunkPool holds empty buffers of queueChunk bytes: a send queue's chunks.
var chunkPool sync.Pool

// getChunk returns an empty buffer of queueChunk bytes.
func getChunk() *[]byte {
	if b, ok := chunkPool.Get().(*[]byte); ok {
		*b = (*b)[:0]
		return b
	}
	b := make([]byte, 0, queueChunk)
	return &b
}

// putChunk gives a chunk of a send queue back: to chunkPool when it has
// queueChunk bytes, else to writePool (see putBuffer).
func putChunk(b *[]byte) {
	if cap(*b) == queueChunk {
		chunkPool.Put(b)
		return
	}
	putBuffer(&writePool, b)
}
