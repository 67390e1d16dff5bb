package gateway

import (
	"errors"
	"time"
)

// handoffDelay is how long a reader goroutine waits for a connection's next
// message before it hands the wait to a fresh goroutine (see wait).
const handoffDelay = 100 * time.Millisecond

// Errors that end a read: the connection ends, or (errHandoff) the reader
// goroutine hands over.
var (
	errIdle          = errors.New("idle timeout")
	errMaxAge        = errors.New("connection age limit")
	errCloseAsked    = errors.New("close requested")
	errLingerTimeout = errors.New("no close frame from the client")
	errHandoff       = errors.New("reader hands over")
)

// start hands the connection to its event loop when prepareLoop gave it
// one (looped), and otherwise arms the read deadline and starts its reader
// goroutine.
func (c *conn) start(looped bool) {
	if looped {
		c.lp.start(c)
		return
	}
	c.rearm()
	go c.wait()
}

// park hands the wait for the next message over: back to the connection's
// event loop, or to a fresh reader goroutine (see wait).
func (c *conn) park() {
	if c.lp != nil {
		c.lp.post(loopTask{kind: taskResume, c: c})
		return
	}
	c.rearm()
	go c.wait()
}

// wait is the reader of an idle connection: a fresh goroutine parked until
// the next frame starts. Starting afresh keeps its stack at the 2 KiB
// minimum however deep the handling of earlier messages went; that stack is
// most of what an idle connection costs. It does nothing deep itself: a
// deadline that decides nothing (the idle timeout fired, but frames were
// written since) hands over to yet another fresh goroutine.
func (c *conn) wait() {
	if err := c.readFirst(); err != nil {
		if errors.Is(err, errHandoff) {
			c.park()
			return
		}
		c.end(c.endingFor(err))
		return
	}
	c.serve()
}

// serve is the reader while messages arrive. Between messages it waits up
// to handoffDelay for the next one on its own (deeper) stack, then hands
// the wait over to a fresh goroutine.
func (c *conn) serve() {
	for {
		if !c.headerRead && len(c.early) == 0 && (c.reader == nil || c.reader.Buffered() == 0) {
			c.releaseReader()
			at := time.Now().UnixNano() + int64(handoffDelay)
			if limit := c.limitDeadline(); limit != 0 { // 0: no limit, not "now"
				at = min(at, limit)
			}
			c.setReadDeadline(at)
			if err := c.readFirst(); err != nil {
				if errors.Is(err, errHandoff) {
					c.park()
					return
				}
				c.end(c.endingFor(err))
				return
			}
		}
		if end, ok := c.readOne(); !ok {
			c.end(end)
			return
		}
	}
}

// end tears the connection down (tailscale's derp sclient.run shape): stop
// and wait for the writer, $disconnect, remove from the table.
func (c *conn) end(e ending) {
	defer c.gw.running.Done()
	c.finish(e)
}

// readFirst blocks until the next frame starts and keeps its first two
// bytes in c.header. A timeout of its first read that is not the end of the
// connection returns errHandoff.
func (c *conn) readFirst() error {
	c.waiting = true
	if err := c.readStart(); err != nil {
		return err
	}
	c.headerRead = true
	return nil
}

// limitDeadline is the next moment the idle timeout, the age limit or the
// deadline of a started frame could fire, in Unix nanoseconds; 0 when none
// applies.
func (c *conn) limitDeadline() int64 {
	opts := &c.gw.opts
	var at int64
	if opts.IdleTimeout > 0 {
		at = c.lastActive.Load() + int64(opts.IdleTimeout)
	}
	if opts.MaxConnectionAge > 0 {
		if expires := c.connectedAt + int64(opts.MaxConnectionAge); at == 0 || expires < at {
			at = expires
		}
	}
	if c.frameDeadline != 0 && (at == 0 || c.frameDeadline < at) {
		at = c.frameDeadline
	}
	return at
}

// rearm sets the read deadline to limitDeadline.
func (c *conn) rearm() { c.setReadDeadline(c.limitDeadline()) }

// setReadDeadline sets the read deadline (0: none). requestClose stores its
// status before it sets its own deadline, in the past; checking the status
// after setting ours means that deadline is never lost.
func (c *conn) setReadDeadline(at int64) {
	c.deadline = at
	if c.lp != nil {
		return // readLooped checks the deadline and the status itself
	}
	var t time.Time
	if at != 0 {
		t = time.Unix(0, at)
	}
	_ = c.netConn.SetReadDeadline(t)
	if c.closeStatus.Load() != 0 {
		_ = c.netConn.SetReadDeadline(time.Now())
	}
}

// onTimeout decides what a read deadline means: the end of lingering, a
// close asked for, the idle timeout, the age limit, a frame not completed
// in time, a hand-over when the reader waits between messages, or else
// nothing yet, in which case it re-arms the deadline and returns nil so the
// read is retried.
func (c *conn) onTimeout() error {
	if c.lingering {
		return errLingerTimeout
	}
	if c.closeStatus.Load() != 0 {
		return errCloseAsked
	}
	now := time.Now().UnixNano()
	opts := &c.gw.opts
	if opts.MaxConnectionAge > 0 && now >= c.connectedAt+int64(opts.MaxConnectionAge) {
		return errMaxAge
	}
	if opts.IdleTimeout > 0 && now >= c.lastActive.Load()+int64(opts.IdleTimeout) {
		return errIdle
	}
	if c.frameDeadline != 0 && now >= c.frameDeadline {
		return errFrameTimeout
	}
	if c.waiting {
		return errHandoff
	}
	c.rearm()
	return nil
}
