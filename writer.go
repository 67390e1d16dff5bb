package monologue

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

const (
	// writeQueueLimit is the number of queued bytes past which writes wait
	// for the writer (ctx permitting): the queue is bounded.
	writeQueueLimit = 1 << 20
	// maxSpareBuffer is the largest batch buffer kept for reuse.
	maxSpareBuffer = 256 << 10
)

// writer owns the write side of a connection. Frames are masked and
// appended to one queue under a mutex; a single goroutine swaps the queue
// for an empty buffer and writes it with one Write, so frames queued while a
// write is under way leave together in the next one.
type writer struct {
	netConn   net.Conn
	keepAlive time.Duration

	mu      sync.Mutex
	queue   []byte
	space   chan struct{} // closed when the queue is taken; made by a waiter
	err     error         // once set, writes fail with it
	closing bool          // a close frame is the last thing queued
	written bool          // something was written since the last keep-alive check

	wake chan struct{} // 1-buffered: the queue went from empty to not
	done chan struct{} // closed when run returns
}

func newWriter(netConn net.Conn, keepAlive time.Duration) *writer {
	return &writer{
		netConn:   netConn,
		keepAlive: keepAlive,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// write queues one frame. It waits, ctx permitting, while the queue is over
// its limit; it fails with the writer's error once the connection is closing
// or broken. payload is copied before write returns.
func (w *writer) write(ctx context.Context, op ws.OpCode, payload []byte) error {
	w.mu.Lock()
	for w.err == nil && len(w.queue) >= writeQueueLimit {
		if w.space == nil {
			w.space = make(chan struct{})
		}
		space := w.space
		w.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	return w.appendLocked(op, payload)
}

// control queues a control frame (pong) regardless of the queue limit, so
// the reader never waits for the writer.
func (w *writer) control(op ws.OpCode, payload []byte) {
	w.mu.Lock()
	_ = w.appendLocked(op, payload)
}

// appendLocked appends a frame and unlocks w.mu.
func (w *writer) appendLocked(op ws.OpCode, payload []byte) error {
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return err
	}
	wasEmpty := len(w.queue) == 0
	w.queue = appendFrame(w.queue, op, payload)
	w.mu.Unlock()
	if wasEmpty {
		w.signal()
	}
	return nil
}

// close queues a close frame with code as its last frame; later writes fail
// with err. The writer exits once it has written it.
func (w *writer) close(code ws.StatusCode, err error) {
	w.mu.Lock()
	if w.err == nil {
		w.queue = appendFrame(w.queue, ws.OpClose, ws.NewCloseFrameBody(code, ""))
		w.err, w.closing = disconnected(err), true
	}
	w.mu.Unlock()
	w.signal()
}

// fail makes the writer drop its queue and exit, and later writes fail with
// err (unless it already had an error).
func (w *writer) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = disconnected(err)
	}
	w.closing = false
	w.queue = w.queue[:0]
	if w.space != nil {
		close(w.space)
		w.space = nil
	}
	w.mu.Unlock()
	w.signal()
}

func (w *writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// run writes until the writer fails or has written its close frame.
func (w *writer) run() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.keepAlive > 0 {
		ticker := time.NewTicker(w.keepAlive)
		defer ticker.Stop()
		tick = ticker.C
	}
	var batch []byte
	for {
		select {
		case <-w.wake:
		case <-tick:
			w.mu.Lock()
			idle := !w.written && len(w.queue) == 0
			w.written = false
			w.mu.Unlock()
			if idle {
				w.control(ws.OpPing, nil)
			}
			continue
		}
		// Let the goroutines that are about to queue a frame do so before
		// the queue is taken: with 64 callers this turns 1.3 frames per
		// write into 20, and triples the calls per second (BenchmarkCall).
		runtime.Gosched()
		w.mu.Lock()
		next := w.queue
		w.queue = batch[:0]
		if w.space != nil {
			close(w.space)
			w.space = nil
		}
		failed := w.err != nil && !w.closing
		closing := w.closing
		if len(next) > 0 {
			w.written = true
		}
		w.mu.Unlock()
		if failed {
			return
		}
		batch = next
		if len(batch) > 0 {
			if _, err := w.netConn.Write(batch); err != nil {
				w.fail(err)
				_ = w.netConn.Close() // so that the reader stops too
				return
			}
		}
		if closing {
			return
		}
		if cap(batch) > maxSpareBuffer {
			batch = nil
		}
	}
}

// appendFrame appends a complete, masked client frame (RFC 6455 §5.3).
func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|byte(op)) // FIN
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}
