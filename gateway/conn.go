package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/relay"
)

// WebSocket close status codes the gateway sends.
const (
	closeNormal          = uint16(ws.StatusNormalClosure)
	closeGoingAway       = uint16(ws.StatusGoingAway)
	closeProtocolError   = uint16(ws.StatusProtocolError)
	closeInvalidPayload  = uint16(ws.StatusInvalidFramePayloadData) // 1007: text that is not UTF-8
	closePolicyViolation = uint16(ws.StatusPolicyViolation)         // 1008: a frame not completed in time
	closeMessageTooBig   = uint16(ws.StatusMessageTooBig)
)

// conn is one WebSocket connection. Its reader (wait, then serve, then wait
// again on a fresh goroutine) owns the socket's read side and its teardown;
// a writer goroutine runs only while frames are queued. The struct is kept
// small: an idle connection holds no buffers, only this struct, its socket
// and its reader goroutine's stack.
type conn struct {
	gw      *Gateway
	netConn net.Conn
	raw     syscall.RawConn // netConn's socket for writeNow; nil: TLS, queue only
	id      string

	sourceIP, userAgent, tenant, stage string

	connectedAt int64        // Unix nanoseconds
	lastActive  atomic.Int64 // Unix nanoseconds of the last frame either way

	traffic traffic // messages and bytes each way, for introspection

	// closeStatus is a close asked for by another goroutine (Shutdown,
	// DeleteConnection): the status to send, or 0. closeReason goes with it.
	closeStatus atomic.Uint32
	closeReason atomic.Pointer[string]

	// Reader state, owned by the reader goroutine.
	reader     *bufio.Reader // pooled; nil while no bytes are buffered
	early      []byte        // bytes that arrived with the handshake
	skip       int64         // payload bytes of a refused frame still to discard
	header     [ws.MaxHeaderSize]byte
	headerRead bool // header[:2] holds the start of the next frame (readFirst)
	waiting    bool // in readFirst between messages: a timeout may hand over
	lingering  bool // waiting for the client's close frame; timeouts are final
	held       bool // frames queued with sendHeld wait for flushHeld
	// inFrame: a frame has started and is not read whole; frameDeadline,
	// once the reader has had to wait for its rest, is when FrameTimeout
	// runs out (0: not yet). deadline is the read deadline last armed by
	// setReadDeadline (0: none).
	inFrame       bool
	frameDeadline int64
	deadline      int64
	tokens        float64
	tokensAt      int64 // Unix nanoseconds of the last refill

	// mu guards the send queue; it is a leaf lock.
	mu            sync.Mutex
	pending       sendQueue // framed bytes not yet taken by the writer
	pendingFrames int32
	pendingTexts  int32
	flightFrames  int32 // frames the writer is writing
	flightBytes   int
	writeErr      error // why the socket broke
	writing       bool  // a writer is running: writeLoop, or writeNow's caller
	closed        bool  // a close frame is queued or the socket failed: no more sends
	broken        bool  // a write failed; the socket is closed
	inRound       bool  // on an event loop's list of connections to write at the end of its round
	fdClosed      bool  // lp != nil: fd is closed (and may be another socket's now)
	writers       sync.WaitGroup

	// Event-loop state: lp is the loop that owns the socket fd when the
	// connection is served by one (plain TCP on Linux, see loop); then
	// netConn is closed and raw is nil. looped and in belong to the loop:
	// looped is true while the loop reads the socket, false while a
	// goroutine does (serve, linger, finish), which waits for readable; in
	// holds what the loop has read and not yet handled (nil when empty).
	// A writer that finds the send buffer full waits for writable, which
	// the loop signals while wantWrite is set.
	lp        *loop
	fd        int
	looped    bool
	in        *[]byte
	need      int // bytes of the frame in holds the start of (0: not known)
	readable  chan struct{}
	writable  chan struct{}
	wantWrite atomic.Bool
}

func newConn(g *Gateway, netConn net.Conn, id string, identity relay.Identity, stage string) *conn {
	now := time.Now().UnixNano()
	c := &conn{
		gw:          g,
		netConn:     netConn,
		raw:         rawsock.For(netConn),
		id:          id,
		sourceIP:    identity.SourceIP,
		userAgent:   identity.UserAgent,
		tenant:      identity.Tenant,
		stage:       stage,
		connectedAt: now,
		tokens:      float64(g.opts.MessageBurst),
		tokensAt:    now,
	}
	c.lastActive.Store(now)
	return c
}

func (c *conn) identity() relay.Identity {
	return relay.Identity{SourceIP: c.sourceIP, UserAgent: c.userAgent, Tenant: c.tenant}
}

// touch records activity for the idle timeout.
func (c *conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// requestClose asks the reader goroutine to close the connection with
// status. It returns false when a close was already asked for.
func (c *conn) requestClose(status uint16, reason string) bool {
	if !c.closeStatus.CompareAndSwap(0, uint32(status)) {
		return false
	}
	c.closeReason.Store(&reason)
	// Wake the reader: it sees the timeout, then the status (see onTimeout).
	if c.lp != nil {
		c.lp.post(loopTask{kind: taskWake, c: c})
		return true
	}
	_ = c.netConn.SetReadDeadline(time.Now())
	return true
}

// closeSocket closes the socket once the connection is done with it.
func (c *conn) closeSocket() { c.endSocket(true) }

// breakSocket cuts the connection off from any goroutine (a failed write,
// a shutdown that stops waiting): its reader and writer fail at once, and
// the reader's teardown closes the socket.
func (c *conn) breakSocket() { c.endSocket(false) }

// endSocket closes the socket (closeSocket) or shuts it down
// (breakSocket). A loop's descriptor is closed at most once, under mu, so
// that a shutdown never reaches its number once another file has it.
func (c *conn) endSocket(close bool) {
	if c.lp == nil {
		_ = c.netConn.Close()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.fdClosed:
	case close:
		c.fdClosed = true
		c.lp.remove(c)
	default:
		shutdownSocket(c.fd)
	}
}

// isClosing reports whether the connection is going away.
func (c *conn) isClosing() bool {
	if c.closeStatus.Load() != 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// ending says how a connection ends.
type ending struct {
	status uint16 // close status to send; 0: send none (the socket failed)
	reason string
	// initiated: the server closes first, so it waits for the client's
	// close frame before dropping the socket.
	initiated bool
	err       error // the read error, for the log
}

// finish closes the socket and tells the integration.
func (c *conn) finish(end ending) {
	g := c.gw
	if end.status != 0 {
		c.queueClose(end.status, end.reason)
	} else {
		c.discard()
	}
	c.writers.Wait() // bounded: each write has a WriteTimeout deadline
	c.discard()      // nothing is left queued; should anything be, it is uncounted
	if end.initiated && c.writeOK() {
		c.linger()
	}
	c.closeSocket()
	c.releaseReader()
	g.disconnected(c.id, c.identity())
	g.conns.remove(c.id)
	g.admission.release(c.sourceIP, c.tenant)
	g.metrics.connections.Dec()
	duration := time.Duration(time.Now().UnixNano() - c.connectedAt)
	attrs := []any{"connection", c.id, "source_ip", c.sourceIP, "tenant", g.keys.label(c.tenant),
		"duration", duration.Round(time.Millisecond), "reason", end.reason}
	if end.status != 0 {
		attrs = append(attrs, "status", end.status)
	}
	if end.err != nil && !expectedReadError(end.err) {
		attrs = append(attrs, "err", end.err)
	}
	g.log.Info("connection closed", attrs...)
}

// refuse closes a connection upgraded while the gateway began shutting down.
func (c *conn) refuse() {
	frame := wsframe.AppendFrame(nil, ws.OpClose, wsframe.AppendCloseBody(nil, ws.StatusGoingAway, "server shutting down"))
	if c.netConn == nil { // upgraded by its loop: the loop's descriptor is its only one
		_, _ = c.tryWrite(frame)
		c.lp.release(c)
	} else {
		if c.lp != nil {
			c.lp.release(c)
		}
		_ = c.netConn.SetWriteDeadline(time.Now().Add(handshakeTimeout))
		_, _ = c.netConn.Write(frame)
		_ = c.netConn.Close()
	}
	c.gw.metrics.rejected("shutting_down")
	c.gw.disconnected(c.id, c.identity())
}

// linger waits a little for the client's close frame after the server's,
// so that the client sees a clean close rather than a reset.
func (c *conn) linger() {
	c.lingering = true
	c.frameDone() // what the client sends now is read only to find its close frame
	until := time.Now().Add(c.gw.opts.closeTimeout())
	c.deadline = until.UnixNano()
	// Not setReadDeadline, which moves the deadline to now once a close was
	// asked for: the client's answer to that close is what this waits for.
	if c.lp == nil {
		_ = c.netConn.SetReadDeadline(until)
	}
	if c.skip > 0 { // the rest of a refused frame
		c.acquireReader()
		if _, err := c.reader.Discard(int(min(c.skip, 1<<40))); err != nil {
			return
		}
		c.skip = 0
	}
	for {
		h, err := c.readHeader()
		if err != nil {
			return
		}
		if h.OpCode == ws.OpClose {
			return
		}
		if _, err := c.reader.Discard(int(min(h.Length, 1<<30))); err != nil {
			return
		}
	}
}

// expectedReadError reports errors that are a normal way for a client to go.
func expectedReadError(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}
