package monologue

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/wsframe"
)

const (
	// writeQueueLimit is the number of queued bytes past which writes wait
	// for the writer (ctx permitting): the queue is bounded.
	writeQueueLimit = 1 << 20
	// maxSpareBuffer is the largest batch buffer kept for reuse.
	maxSpareBuffer = 256 << 10
	// quietGap is how long a connection must have written nothing for a
	// frame to be written by the goroutine that sends it (see write): frames
	// that follow each other more closely are left to the writer goroutine,
	// which batches them.
	quietGap = 20 * time.Microsecond
)

// clock is the origin of writer.lastWrite: monotonic time since it.
var clock = time.Now()

// writer owns the write side of a connection. Frames are masked and
// appended to one queue under a mutex; whoever writes swaps the queue for
// an empty buffer and writes it with one Write, so frames queued while a
// write is under way leave together in the next one.
//
// Two goroutines write. The writer goroutine (run) waits for frames and
// writes everything queued, blocking on the socket if it must. And a
// goroutine that sends a frame on a quiet connection (nothing queued, no
// write under way, nothing written for quietGap) writes itself, on a plain
// TCP socket, with one non-blocking system call: it saves handing the frame
// to the writer goroutine on the way to the socket. Either holds busy while
// it writes, so writes never overlap and frames leave in the order they
// were queued; what the socket does not take at once goes back to the front
// of the queue for the writer goroutine.
type writer struct {
	netConn   net.Conn
	raw       syscall.RawConn // netConn's socket for writeNow; nil: TLS, run only
	keepAlive time.Duration

	mu        sync.Mutex
	queue     []byte
	spare     []byte        // an empty buffer to swap for the queue
	space     chan struct{} // closed when the queue is taken; made by a waiter
	err       error         // once set, writes fail with it
	busy      bool          // a write is under way, run's or writeNow's
	closing   bool          // a close frame is the last thing queued
	written   bool          // something was written since the last keep-alive check
	lastWrite time.Duration // when the last write ended, since clock

	wake chan struct{} // 1-buffered: the queue went from empty to not
	done chan struct{} // closed when run returns
}

// newWriter returns the writer of netConn; raw is its socket, from
// rawsock.For, or nil.
func newWriter(netConn net.Conn, raw syscall.RawConn, keepAlive time.Duration) *writer {
	return &writer{
		netConn:   netConn,
		raw:       raw,
		keepAlive: keepAlive,
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// write sends one frame: it writes it itself when the connection is quiet
// (see writer), and otherwise queues it for the writer goroutine. It waits,
// ctx permitting, while the queue is over its limit; it fails with the
// writer's error once the connection is closing or broken. payload is
// copied before write returns.
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
	if w.err == nil && w.raw != nil && !w.busy && len(w.queue) == 0 &&
		time.Since(clock)-w.lastWrite >= quietGap {
		return w.writeNow(op, payload)
	}
	return w.appendLocked(op, payload)
}

// writeNow queues a frame on a quiet connection and writes the queue from
// the calling goroutine; it is called with w.mu held and unlocks it. Like
// run, it first lets the goroutines that are about to send a frame queue it
// too, so that a burst of frames still leaves in one write.
func (w *writer) writeNow(op ws.OpCode, payload []byte) error {
	w.busy = true
	w.queue = appendFrame(w.queue, op, payload)
	w.mu.Unlock()
	runtime.Gosched()
	w.mu.Lock()
	if w.err != nil && !w.closing { // failed meanwhile; the queue is gone
		w.busy = false
		err := w.err
		w.mu.Unlock()
		w.signal()
		return err
	}
	batch := w.takeLocked()
	w.mu.Unlock()

	n, err := rawsock.TryWrite(w.raw, batch)

	w.mu.Lock()
	w.busy = false
	w.lastWrite = time.Since(clock)
	if n > 0 {
		w.written = true
	}
	if err == nil && n < len(batch) && (w.err == nil || w.closing) {
		// The rest goes first, before the frames queued meanwhile (and
		// the close frame, if one was queued).
		w.queue = slices.Insert(w.queue, 0, batch[n:]...)
	}
	w.keepLocked(batch)
	// Wake run for what is queued, or to exit after the close frame.
	more := len(w.queue) > 0 || w.closing
	w.mu.Unlock()
	if err != nil {
		w.fail(err)
		_ = w.netConn.Close() // so that the reader stops too
		w.mu.Lock()
		err = w.err
		w.mu.Unlock()
		return err
	}
	if more {
		w.signal()
	}
	return nil
}

// takeLocked takes everything queued, leaving the spare buffer as the
// queue, and wakes the writes waiting for space.
func (w *writer) takeLocked() []byte {
	batch := w.queue
	w.queue, w.spare = w.spare[:0], nil
	if w.space != nil {
		close(w.space)
		w.space = nil
	}
	return batch
}

// keepLocked keeps a written batch's buffer as the spare one.
func (w *writer) keepLocked(batch []byte) {
	if cap(batch) <= maxSpareBuffer && cap(batch) > cap(w.spare) {
		w.spare = batch[:0]
	}
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

// run writes until the writer fails or has written its close frame. While
// writeNow is writing it leaves the queue alone: writeNow signals when it
// leaves frames queued.
func (w *writer) run() {
	defer close(w.done)
	var tick <-chan time.Time
	if w.keepAlive > 0 {
		ticker := time.NewTicker(w.keepAlive)
		defer ticker.Stop()
		tick = ticker.C
	}
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
		if w.err != nil && !w.closing {
			w.mu.Unlock()
			return
		}
		if w.busy {
			w.mu.Unlock()
			continue
		}
		if len(w.queue) == 0 {
			// With a close frame queued, an empty queue means that writeNow
			// has written it.
			closed := w.closing
			w.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		batch := w.takeLocked()
		closing := w.closing
		w.busy, w.written = true, true
		w.mu.Unlock()
		_, err := w.netConn.Write(batch)
		w.mu.Lock()
		w.busy = false
		w.lastWrite = time.Since(clock)
		w.keepLocked(batch)
		w.mu.Unlock()
		if err != nil {
			w.fail(err)
			_ = w.netConn.Close() // so that the reader stops too
			return
		}
		if closing {
			return
		}
	}
}

// appendFrame appends a complete client frame, masked with a fresh random
// key (RFC 6455 §5.3).
func appendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	var mask [4]byte
	binary.LittleEndian.PutUint32(mask[:], rand.Uint32())
	return wsframe.AppendMaskedFrame(dst, op, payload, mask)
}
