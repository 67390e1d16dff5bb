//go:build linux

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// loopsSupported reports whether this platform has event loops.
const loopsSupported = true

// loopReadSize is the size of the buffer a loop reads a connection into;
// a connection holds one only while it has bytes the loop has not handled.
const loopReadSize = 16 << 10

// loopEvents is how many events one epoll_wait returns at most.
const loopEvents = 256

// A round that found at least lingerEvents sockets ready is followed by a
// pause of lingerTime before the next epoll_wait: the loop is busy, so more
// frames arrive meanwhile, and the next round reads, handles and writes
// them together, with fewer system calls and wake-ups each. A round with
// one socket ready (a lone call) never waits, so latency at low load is
// unchanged; under load the pause is small next to the queueing. Nor does
// a round that accepted connections or read handshakes: each answer to a
// handshake is a write of its own, so waiting gathers nothing, and new
// connections would only wait longer for their 101 (the connection rate
// fell by a fifth with the pause).
const (
	lingerEvents = 2
	lingerTime   = 50 * time.Microsecond
)

// Bounds of the time between two sweeps of a loop's deadlines.
const (
	minSweep = 5 * time.Millisecond
	maxSweep = time.Second
)

var loopReadPool = sync.Pool{New: func() any {
	b := make([]byte, 0, loopReadSize)
	return &b
}}

// loop is an event loop over an epoll instance of its own that serves the
// plain-TCP connections given to it. Each round it takes the sockets that
// are ready, reads each once (a read that does not fill the buffer has
// emptied the socket, so no read is spent to learn that), handles every
// whole message read, and then writes each connection the frames the round
// queued for it with one system call. A connection's idle wait costs no
// goroutine and no buffer: only its place in the epoll set.
//
// The loop keeps to the common case: whole, unfragmented text, binary,
// ping and pong frames, and frames that arrive in pieces. Anything else (a
// close frame, a fragmented or oversized message, a protocol error, an
// ending, a close asked for, a deadline) is handed to a goroutine that runs
// the connection's ordinary reader over the same socket, which waits for
// the loop to say the socket is readable; that goroutine gives the
// connection back to the loop once it has been idle for handoffDelay.
//
// The loop blocks in epoll_wait itself, and the connections' descriptors
// are taken out of Go's netpoller (each is a duplicate of the accepted
// socket's, which is closed), so an event wakes one thread, once.
type loop struct {
	g    *Gateway
	epfd int
	wake int             // eventfd written when a task is posted
	ctx  context.Context // g.ctx marked with this loop (see sendModeOf)

	mu      sync.Mutex
	conns   map[int32]*conn // by descriptor
	others  map[int32]any   // *acceptor and *upgrade, by descriptor
	tasks   []loopTask
	woken   bool // wake was written since the tasks were last taken
	stopped bool // the loop has ended: nothing is posted any more
	pending atomic.Bool

	answered atomic.Uint64 // handshakes the loop answered itself

	round round // the connections with frames queued this round

	// Owned by the loop's goroutine.
	events    []unix.EpollEvent
	ready     []*conn
	readyElse []any   // what ready has not: a listener or a handshake
	again     []*conn // their last read filled the buffer: read again
	spareRead []*conn // again's other slice
	taken     []loopTask
	roundEnd  []func() // run before the round's frames are written (AtRoundEnd)
	// ev and frame are the event being handled and its parsed frame: the
	// integration keeps neither past Handle, so one of each serves every
	// frame the loop handles, and none is allocated.
	ev        relay.Event
	frame     wire.Frame
	nextSweep int64
	done      chan struct{}

	// immediate is the gateway's integration when some of its events wait
	// (nil when none does): the loop asks it before handling each frame,
	// yields the processor after each round, and waits for events by
	// parking in Go's netpoller on epfd through polled.
	immediate LoopIntegration
	polled    *os.File
	polledRaw syscall.RawConn
}

type taskKind uint8

const (
	// taskAdd gives the loop a new connection.
	taskAdd taskKind = iota
	// taskResume gives a connection back from its goroutine.
	taskResume
	// taskWake is a close asked for: the loop hands the connection to a
	// goroutine, or wakes the goroutine that has it.
	taskWake
	// taskStop ends the loop.
	taskStop
	// taskListen gives the loop a listener to accept on.
	taskListen
	// taskUnlisten takes it away.
	taskUnlisten
)

type loopTask struct {
	kind taskKind
	c    *conn
	a    *acceptor
}

// newLoop returns a running loop.
func newLoop(g *Gateway) (*loop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("gateway: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("gateway: eventfd: %w", err)
	}
	// Every write to the eventfd is an edge, so the loop never reads it:
	// its counter cannot come near overflowing.
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(wake)}); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("gateway: epoll_ctl: %w", err)
	}
	l := &loop{
		g:         g,
		epfd:      epfd,
		wake:      wake,
		conns:     make(map[int32]*conn),
		others:    make(map[int32]any),
		events:    make([]unix.EpollEvent, loopEvents),
		ready:     make([]*conn, loopEvents),
		readyElse: make([]any, loopEvents),
		done:      make(chan struct{}),
	}
	l.ctx = context.WithValue(g.ctx, batchKey{}, l)
	if li, ok := g.integration.(LoopIntegration); ok {
		if err := l.pollInRuntime(); err != nil {
			_ = unix.Close(epfd)
			_ = unix.Close(wake)
			return nil, err
		}
		l.immediate = li
	}
	go l.run()
	return l, nil
}

// pollInRuntime registers a duplicate of the loop's epoll descriptor with
// Go's netpoller (an epoll set is readable while it has events), so that
// the loop can wait for events as a parked goroutine rather than in a
// system call that keeps its P.
func (l *loop) pollInRuntime() error {
	dup, err := unix.FcntlInt(uintptr(l.epfd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("gateway: dup epoll descriptor: %w", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		_ = unix.Close(dup)
		return fmt.Errorf("gateway: epoll descriptor: %w", err)
	}
	l.polled = os.NewFile(uintptr(dup), "epoll")
	raw, err := l.polled.SyscallConn()
	if err != nil {
		_ = l.polled.Close()
		return fmt.Errorf("gateway: epoll descriptor: %w", err)
	}
	l.polledRaw = raw
	return nil
}

// adopt gives c a duplicate of its socket's descriptor, which the loop
// will own, before c can be found by other goroutines. It returns false,
// changing nothing, when the socket cannot be duplicated.
func (l *loop) adopt(c *conn) bool {
	fd := -1
	var derr error
	if err := c.raw.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		return false
	}
	c.lp, c.fd, c.raw = l, fd, nil
	c.readable = make(chan struct{}, 1)
	c.writable = make(chan struct{}, 1)
	return true
}

// start closes the original descriptor of c's socket, which takes it out
// of Go's netpoller (the duplicate keeps the socket and its O_NONBLOCK),
// and gives c to the loop.
func (l *loop) start(c *conn) {
	if c.netConn != nil {
		_ = c.netConn.Close()
	}
	l.post(loopTask{kind: taskAdd, c: c})
}

// release closes the duplicate of a connection that never started.
func (l *loop) release(c *conn) {
	c.mu.Lock()
	if !c.fdClosed {
		c.fdClosed = true
		_ = unix.Close(c.fd)
	}
	c.mu.Unlock()
}

// remove takes c's socket out of the loop and closes it (c.mu held, so
// that breakSocket cannot reach a closed descriptor).
func (l *loop) remove(c *conn) {
	l.mu.Lock()
	if l.conns[int32(c.fd)] == c {
		delete(l.conns, int32(c.fd))
	}
	if !l.stopped { // else epfd is closed, and its number may be another file's
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
	}
	_ = unix.Close(c.fd)
	l.mu.Unlock()
}

// shutdownSocket makes every read and write of the socket fail.
func shutdownSocket(fd int) { _ = unix.Shutdown(fd, unix.SHUT_RDWR) }

// post queues a task for the loop and wakes it.
func (l *loop) post(t loopTask) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return // its descriptors are closed (and their numbers may be another file's)
	}
	l.tasks = append(l.tasks, t)
	if !l.woken {
		l.woken = true
		l.pending.Store(true)
		var one = [8]byte{1}
		_, _ = unix.Write(l.wake, one[:])
	}
}

// stop ends the loop and waits for it.
func (l *loop) stop() {
	l.post(loopTask{kind: taskStop})
	<-l.done
}

func (l *loop) run() {
	defer close(l.done)
	defer func() {
		l.closeOthers()
		l.mu.Lock()
		l.stopped = true
		_ = unix.Close(l.epfd)
		_ = unix.Close(l.wake)
		l.mu.Unlock()
		if l.polled != nil {
			_ = l.polled.Close()
		}
	}()
	l.nextSweep = time.Now().Add(maxSweep).UnixNano()
	for {
		n := l.wait()
		handshakes := l.handleEvents(n)
		if l.pending.Load() && l.runTasks() {
			l.endRound()
			return
		}
		l.readAgain()
		l.endRound()
		if now := time.Now().UnixNano(); now >= l.nextSweep {
			l.sweep(now)
		}
		switch {
		case l.immediate != nil:
			runtime.Gosched() // the integration's goroutines carry what the round sent
		case n >= lingerEvents && handshakes == 0:
			l.linger()
		}
	}
}

// endRound runs what the round's frames arranged with AtRoundEnd, then
// writes every connection the frames the round queued for it.
func (l *loop) endRound() {
	for i, fn := range l.roundEnd {
		l.roundEnd[i] = nil
		fn()
	}
	l.roundEnd = l.roundEnd[:0]
	l.round.flush()
}

// linger pauses the loop for lingerTime: a raw nanosleep, which keeps the
// P (a blocking call would have sysmon hand it over and take it back);
// other goroutines wait at most lingerTime for it.
func (l *loop) linger() {
	ts := unix.NsecToTimespec(lingerTime.Nanoseconds())
	_, _, _ = unix.RawSyscall(unix.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
}

// wait returns how many events are ready: at once when there are, else
// after blocking in epoll_wait until there are or the next sweep is due
// (then 0). The loop blocks in the system call itself rather than in Go's
// netpoller: a round then costs one epoll_wait, where parking a goroutine
// costs the netpoller's and the loop's, and a thread switch more.
func (l *loop) wait() int {
	timeout := 0
	if len(l.again) == 0 && !l.pending.Load() {
		if d := l.nextSweep - time.Now().UnixNano(); d > 0 {
			timeout = int((d + int64(time.Millisecond) - 1) / int64(time.Millisecond))
		}
	}
	if timeout > 0 {
		// Most rounds under load find events ready: a raw call that does
		// not block finds them without telling the scheduler, which would
		// otherwise take the P away from a loop in a system call (on one
		// P, sysmon does so after 20 µs and then wakes every 20 µs).
		if n := l.pollNow(); n > 0 {
			return n
		}
	}
	if l.polled != nil {
		return l.park(timeout)
	}
	for {
		n, err := unix.EpollWait(l.epfd, l.events, timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			l.g.log.Error("event loop: epoll_wait", "err", err)
			time.Sleep(minSweep)
			return 0
		}
		return n
	}
}

// park waits as a parked goroutine, for at most timeout milliseconds (0:
// not at all), until events are ready, and returns how many it took.
func (l *loop) park(timeout int) int {
	if timeout == 0 {
		return l.pollNow()
	}
	err := l.polled.SetReadDeadline(time.Now().Add(time.Duration(timeout) * time.Millisecond))
	n := 0
	if err == nil {
		err = l.polledRaw.Read(func(uintptr) bool {
			n = l.pollNow()
			return n > 0
		})
	}
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		l.g.log.Error("event loop: wait for events", "err", err)
		time.Sleep(minSweep)
	}
	return n
}

// pollNow is epoll_wait that does not block, made as a raw system call.
func (l *loop) pollNow() int {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(r)
}

// handleEvents reads the ready sockets the loop reads, and wakes the
// goroutines that wait for the others. It returns how many of the events
// were a listener's or a handshake's.
func (l *loop) handleEvents(n int) (handshakes int) {
	if n == 0 {
		return 0
	}
	l.mu.Lock()
	for i := range n {
		fd := l.events[i].Fd
		if l.ready[i] = l.conns[fd]; l.ready[i] == nil && len(l.others) > 0 {
			l.readyElse[i] = l.others[fd]
		}
	}
	l.mu.Unlock()
	for i := range n {
		c := l.ready[i]
		l.ready[i] = nil
		if c == nil {
			// A listener, a handshake, the eventfd (tasks are checked each
			// round), or a socket removed since.
			switch o := l.readyElse[i].(type) {
			case *acceptor:
				l.accept(o)
				handshakes++
			case *upgrade:
				l.readUpgrade(o)
				handshakes++
			}
			l.readyElse[i] = nil
			continue
		}
		ev := l.events[i].Events
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.wantWrite.Load() {
			signal(c.writable)
		}
		if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			if !c.looped {
				signal(c.readable)
				continue
			}
			l.read(c)
			if ev&(unix.EPOLLRDHUP|unix.EPOLLERR|unix.EPOLLHUP) != 0 && c.looped {
				// The end of the stream came with this edge and there will
				// be no other: read on until it is met.
				l.again = append(l.again, c)
			}
		}
	}
	return handshakes
}

// signal wakes whoever waits on ch, or the next to wait on it.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// runTasks carries out the posted tasks; true when the loop is to stop.
func (l *loop) runTasks() (stop bool) {
	l.mu.Lock()
	l.taken, l.tasks = l.tasks, l.taken[:0]
	l.woken = false
	l.pending.Store(false)
	l.mu.Unlock()
	for i, t := range l.taken {
		l.taken[i] = loopTask{}
		switch t.kind {
		case taskStop:
			stop = true
		case taskAdd:
			l.add(t.c)
		case taskResume:
			t.c.looped = true
			l.watch(t.c)
			l.read(t.c) // what arrived while the goroutine was giving it back
		case taskListen:
			l.listen(t.a)
		case taskUnlisten:
			l.unlisten(t.a)
		case taskWake:
			if t.c.looped {
				l.handOff(t.c, 0)
			} else {
				signal(t.c.readable)
			}
		}
	}
	return stop
}

// add registers a new connection and handles what came with its handshake.
func (l *loop) add(c *conn) {
	l.mu.Lock()
	l.conns[int32(c.fd)] = c
	err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
		Fd:     int32(c.fd),
	})
	l.mu.Unlock()
	if err == unix.EEXIST {
		err = nil // upgraded by the loop: registered since it was accepted
	}
	if err != nil {
		// The goroutine reader cannot wait either: shut the socket so that
		// it ends the connection at once, and say why.
		l.g.log.Error("event loop: epoll_ctl", "connection", c.id, "err", err)
		shutdownSocket(c.fd)
		c.looped = false
		c.rearm()
		go c.serve()
		return
	}
	c.looped = true
	l.watch(c)
	if len(c.early) > 0 {
		in := loopReadPool.Get().(*[]byte)
		*in = append((*in)[:0], c.early...)
		c.early = nil
		c.in = in
		if !l.frames(c) {
			return
		}
	}
	l.read(c)
}

// watch makes sure the loop sweeps by the time c's deadline passes.
func (l *loop) watch(c *conn) {
	if at := c.limitDeadline(); at != 0 {
		l.nextSweep = min(l.nextSweep, at)
	}
}

// readAgain reads the sockets whose last read filled the buffer.
func (l *loop) readAgain() {
	if len(l.again) == 0 {
		return
	}
	again := l.again
	l.again = l.spareRead[:0]
	for i, c := range again {
		again[i] = nil
		if c.looped {
			l.read(c)
		}
	}
	l.spareRead = again[:0]
}

// read reads c's socket once and handles the whole frames it has.
func (l *loop) read(c *conn) {
	if c.in == nil {
		c.in = loopReadPool.Get().(*[]byte)
	}
	b := *c.in
	if len(b) == cap(b) {
		b = growRead(b, c.need)
	}
	n, err := rawsock.ReadFD(c.fd, b[len(b):cap(b)])
	if err == syscall.EAGAIN {
		*c.in = b
		c.releaseIn()
		return
	}
	if err != nil || n == 0 {
		// The end of the stream or a failed socket: the goroutine reads
		// it again and ends the connection as the ordinary reader does.
		*c.in = b
		l.handOff(c, 0)
		return
	}
	filled := n == cap(b)-len(b)
	*c.in = b[:len(b)+n]
	if l.frames(c) && filled {
		l.again = append(l.again, c)
	}
}

// growRead returns b with room for more: twice its size, up to need (the
// whole frame being read) when that is larger than b, so a frame's buffer
// grows with what has arrived of it, not with what its header announces.
func growRead(b []byte, need int) []byte {
	size := max(2*cap(b), loopReadSize)
	if need > cap(b) {
		size = min(size, need)
	}
	grown := make([]byte, len(b), size)
	copy(grown, b)
	return grown
}

// releaseIn gives c's read buffer back when it holds nothing.
func (c *conn) releaseIn() {
	if c.in == nil || len(*c.in) > 0 {
		return
	}
	if cap(*c.in) == loopReadSize {
		loopReadPool.Put(c.in)
	}
	c.in = nil
	c.need = 0
}

// frames handles the whole frames at the start of c.in and keeps the rest.
// It returns false when it handed the connection to a goroutine.
func (l *loop) frames(c *conn) bool {
	g := l.g
	b := *c.in
	off := 0
	limit := int64(g.opts.MaxMessageSize)
	touched := false // the frames of one read arrived together: one clock read
	for len(b)-off >= 2 {
		rest := b[off:]
		size := wsframe.HeaderSize(rest[1])
		if len(rest) < size {
			break
		}
		h, err := wsframe.ParseHeader(rest[:size])
		if err != nil || ws.CheckHeader(h, ws.StateServerSide) != nil || !h.Fin ||
			h.OpCode == ws.OpContinuation || h.OpCode == ws.OpClose || h.Length > limit {
			// The goroutine reader answers it (and its errors) as always.
			l.handOff(c, off)
			return false
		}
		total := int64(size) + h.Length
		if int64(len(rest)) < total {
			c.need = int(total)
			break
		}
		payload := rest[size:total]
		ws.Cipher(payload, h.Mask, 0)
		if !touched {
			c.touch()
			touched = true
		}
		c.frameDone()
		off += int(total)
		switch h.OpCode {
		case ws.OpText:
			var valid bool
			l.ev, valid = c.event(payload, &l.frame)
			if !valid {
				l.end(c, off, ending{status: closeInvalidPayload, reason: "text message is not valid UTF-8", initiated: true})
				return false
			}
			if l.immediate != nil && !l.immediate.Immediate(&l.ev) {
				// It would wait: the goroutine reader reads it again.
				ws.Cipher(payload, h.Mask, 0)
				l.handOff(c, off-int(total))
				return false
			}
			c.serveEvent(l.ctx, &l.ev)
		case ws.OpBinary:
			c.replyError(l.ctx, wire.CodeBadRequest, "binary frames are not supported: send text frames", nil)
		case ws.OpPing:
			if g.opts.MessageRate > 0 && !c.allow() {
				g.metrics.dropped("ping_rate_limited", 1)
			} else {
				_ = c.enqueue(ws.OpPong, payload, true, sendRound, &l.round)
			}
		}
	}
	if off > 0 {
		b = b[:copy(b, b[off:])]
		*c.in = b
		c.need = 0
	}
	if len(b) > 0 {
		c.startFrame(l)
	} else {
		c.releaseIn()
	}
	return true
}

// startFrame notes that a frame has started and the loop waits for its
// rest: from now on FrameTimeout bounds it.
func (c *conn) startFrame(l *loop) {
	c.inFrame = true
	if c.frameDeadline == 0 && c.gw.opts.FrameTimeout > 0 {
		c.frameDeadline = time.Now().UnixNano() + int64(c.gw.opts.FrameTimeout)
		l.nextSweep = min(l.nextSweep, c.frameDeadline)
	}
}

// handOff gives c to a goroutine running the ordinary reader, which reads
// c.in from off first.
func (l *loop) handOff(c *conn, off int) {
	l.keepUnread(c, off)
	c.looped = false
	c.rearm()
	go c.serve()
}

// end gives c to a goroutine that ends it, reading c.in from off first
// (the client's close frame may be there).
func (l *loop) end(c *conn, off int, e ending) {
	l.keepUnread(c, off)
	c.looped = false
	go c.end(e)
}

// keepUnread moves what the goroutine reader is to read first from c.in
// to c.early.
func (l *loop) keepUnread(c *conn, off int) {
	if c.in != nil {
		if len(*c.in) > off {
			c.early = append([]byte(nil), (*c.in)[off:]...)
		}
		*c.in = (*c.in)[:0]
		c.releaseIn()
	}
}

// sweep hands the connections whose deadline (idle timeout, age limit,
// frame timeout) has passed to a goroutine, which decides what it means,
// and sets when to sweep next.
func (l *loop) sweep(now int64) {
	next := now + int64(maxSweep)
	var due []*conn
	l.mu.Lock()
	for _, c := range l.conns {
		if !c.looped {
			continue
		}
		at := c.limitDeadline()
		switch {
		case at == 0:
		case at <= now:
			due = append(due, c)
		default:
			next = min(next, at)
		}
	}
	l.mu.Unlock()
	for _, c := range due {
		l.handOff(c, 0)
	}
	if at := l.sweepOthers(now); at != 0 {
		next = min(next, at)
	}
	l.nextSweep = max(next, now+int64(minSweep))
}

// readLooped is read for a connection an event loop owns, from the
// goroutine that has it: it waits for the loop to signal the socket
// readable, within the read deadline, and for a close asked for.
func (c *conn) readLooped(p []byte) (int, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if !c.lingering && c.closeStatus.Load() != 0 {
			return 0, os.ErrDeadlineExceeded
		}
		var wait time.Duration
		if c.deadline != 0 {
			wait = time.Duration(c.deadline - time.Now().UnixNano())
			if wait <= 0 {
				return 0, os.ErrDeadlineExceeded
			}
		}
		n, err := rawsock.ReadFD(c.fd, p)
		switch {
		case err == nil && n == 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err != syscall.EAGAIN:
			return 0, os.NewSyscallError("read", err)
		}
		if wait == 0 {
			<-c.readable
			continue
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-c.readable:
		case <-timer.C:
		}
	}
}

// writeLooped is write for a connection an event loop owns: it writes q
// whole, waiting for the loop to signal the socket writable, within
// WriteTimeout.
func (c *conn) writeLooped(q *sendQueue) error {
	deadline := time.Now().Add(c.gw.opts.WriteTimeout)
	var timer *time.Timer
	defer func() {
		c.wantWrite.Store(false)
		if timer != nil {
			timer.Stop()
		}
	}()
	chunks := append(make([]*[]byte, 0, 1+len(q.more)), q.head)
	chunks = append(chunks, q.more...)
	for _, chunk := range chunks {
		b := *chunk
		for len(b) > 0 {
			// Set before the attempt, so that the loop signals any
			// room made after a write finds none.
			c.wantWrite.Store(true)
			n, err := rawsock.WriteFD(c.fd, b)
			if err == nil {
				b = b[n:]
				continue
			}
			if err != syscall.EAGAIN {
				return os.NewSyscallError("write", err)
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				return fmt.Errorf("write: %w", os.ErrDeadlineExceeded)
			}
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-c.writable:
			case <-timer.C:
			}
		}
	}
	c.touch()
	return nil
}
