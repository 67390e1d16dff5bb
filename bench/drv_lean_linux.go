//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/monologue-go/monologue/bench/hist"
	"github.com/monologue-go/monologue/internal/rawsock"
)

// openMany opens the held connections of the connect and idle scenarios
// (see manyOpener) as hold opens one, with the same bytes on the wire and
// the same checks of the answers, but from one goroutine that drives all
// of them with its own epoll set and system calls on the raw descriptors:
// no net.Conn, no goroutine, no netpoller wake-up and no channel per
// connection. Through hold, the load generator spent 60–75 µs of CPU per
// connection, more than the gateway spent on it, and its core was the
// busier one: the connect rate measured the load generator. Addresses
// that are not IPv4 take hold's path.
func (d *plainDriver) openMany(ctx context.Context, n, k int, opts *Options, h *hist.Histogram, t *tally) ([]holder, error) {
	req, addr, err := d.leanRequest()
	var to *net.TCPAddr
	if err == nil {
		to, err = net.ResolveTCPAddr("tcp", addr)
	}
	if err != nil || to.IP.To4() == nil {
		// hold fails each connection with the same error, or dials IPv6.
		return openHeld(ctx, d, n, k, opts, h, t)
	}
	o, err := newLeanOpener(req, to, opts)
	if err != nil {
		if t != nil {
			t.failN(uint64(n), err, false)
		}
		return nil, err
	}
	result := make(chan leanOpened, 1)
	go o.run(ctx, n, max(k, 1), h, t, result)
	r := <-result
	return r.holders, r.err
}

// leanOpened is what a leanOpener's run hands back once it has opened all
// it was asked to: the connections it holds, and with no tally the first
// failure.
type leanOpened struct {
	holders []holder
	err     error
}

// leanOpener opens connections as plainDriver.hold does and then holds
// them, all from one goroutine (run) locked to its thread, waiting in
// epoll_wait on an epoll set of its own. Keeping k connections in flight
// from one event loop costs per connection only the system calls of the
// connection itself: a socket, its options, connect, one epoll_ctl, a
// getsockopt for the result of connect, two writes and two or three reads.
// They are raw system calls where they cannot block (see rawsock): on a
// load generator with a core of its own, the runtime's bookkeeping around
// each call would be a good part of what is left.
//
// Held connections stay in the epoll set, so that run sees a server close
// one and closes its done channel. Their close, called from any goroutine,
// closes the socket under the connection's mutex, which run also holds
// while it uses the descriptor, so that run never touches a descriptor
// number once it is closed and perhaps reused. run ends when opening is
// over and every connection it holds has been closed, or when its context
// ends (it then closes what it holds).
type leanOpener struct {
	req     []byte                  // the handshake request, as hold writes it
	to      unix.RawSockaddrInet4   // the server
	toText  string                  // the server, for errors
	from    []unix.RawSockaddrInet4 // source addresses by i % len(from); none: no bind
	timeout time.Duration           // bound on each connection's opening
	epfd    int

	wakeMu sync.Mutex
	wakefd int // an eventfd in the epoll set that wakes run; -1 once closed

	live   atomic.Int64  // connections held and not yet closed
	exited chan struct{} // closed when run has returned

	// The rest belongs to run's goroutine.
	conns   []*leanConn // by connection index, the epoll token; nil once failed
	flight  []*leanConn // connections being opened
	bufs    []*[leanBufSize]byte
	events  [128]unix.EpollEvent
	discard [4096]byte
}

// leanWakeToken is the epoll token of the opener's eventfd; the sockets'
// are their connection indexes.
const leanWakeToken = -1

// The steps of a connection being opened, in order.
const (
	leanConnecting  = iota // connect in progress: wait until writable
	leanRequesting         // write the handshake request
	leanUpgrading          // read the 101 answer
	leanAsking             // write whoami
	leanIdentifying        // read whoami's answer
	leanHeld               // opened: held until closed
)

// newLeanOpener makes the epoll set and eventfd of an opener of
// connections to the IPv4 address to that write req.
func newLeanOpener(req []byte, to *net.TCPAddr, opts *Options) (*leanOpener, error) {
	o := &leanOpener{req: req, toText: to.String(), timeout: opts.CallTimeout, exited: make(chan struct{})}
	o.to = rawInet4(to.IP, to.Port)
	for i := range max(opts.SourceAddrs, 0) {
		o.from = append(o.from, rawInet4(sourceAddr(i, opts.SourceAddrs), 0))
	}
	var err error
	if o.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return nil, fmt.Errorf("connection opener: %w", os.NewSyscallError("epoll_create1", err))
	}
	if o.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		unix.Close(o.epfd)
		return nil, fmt.Errorf("connection opener: %w", os.NewSyscallError("eventfd", err))
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: leanWakeToken}
	if err := unix.EpollCtl(o.epfd, unix.EPOLL_CTL_ADD, o.wakefd, &ev); err != nil {
		unix.Close(o.wakefd)
		unix.Close(o.epfd)
		return nil, fmt.Errorf("connection opener: %w", os.NewSyscallError("epoll_ctl", err))
	}
	return o, nil
}

// rawInet4 returns the socket address of IPv4 address ip and port.
func rawInet4(ip net.IP, port int) unix.RawSockaddrInet4 {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET}
	copy(sa.Addr[:], ip.To4())
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port) // network byte order
	return sa
}

// run opens n connections, k at a time, hands them to result, then holds
// them until they are all closed or ctx ends. See leanOpener.
func (o *leanOpener) run(ctx context.Context, n, k int, h *hist.Histogram, t *tally, result chan<- leanOpened) {
	defer close(o.exited)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	stop := context.AfterFunc(ctx, o.wake)
	defer stop()
	defer o.shut()
	holders, err := o.open(ctx, n, k, h, t)
	result <- leanOpened{holders: holders, err: err}
	for o.live.Load() > 0 && ctx.Err() == nil {
		if _, err := o.wait(-1); err != nil {
			return
		}
	}
}

// open opens connections 0 to n-1, at most k at once, and returns those
// that opened; see manyOpener.openMany.
func (o *leanOpener) open(ctx context.Context, n, k int, h *hist.Histogram, t *tally) ([]holder, error) {
	o.conns = make([]*leanConn, n)
	holders := make([]holder, 0, n)
	var first error
	fail := func(c *leanConn, err error) {
		o.drop(c)
		err = fmt.Errorf("connection %d: %w", c.i, err)
		switch {
		case t != nil:
			t.fail(err, false)
		case first == nil:
			first = err
		}
	}
	next := 0
	for {
		for len(o.flight) < k && next < n && first == nil && ctx.Err() == nil {
			c := o.begin(next)
			next++
			if c.err != nil {
				fail(c, c.err)
			}
		}
		if len(o.flight) == 0 {
			break
		}
		if first != nil || ctx.Err() != nil {
			// Without a tally, only the first failure is reported.
			cause := ctx.Err()
			if cause == nil {
				cause = errLeanStopped
			}
			for len(o.flight) > 0 {
				c := o.flight[len(o.flight)-1]
				fail(c, fmt.Errorf("%s: %w", o.step(c), cause))
			}
			break
		}
		now := time.Now()
		timeout := -1
		for j := 0; j < len(o.flight); {
			c := o.flight[j]
			left := c.deadline.Sub(now)
			if left <= 0 {
				fail(c, fmt.Errorf("%s: no progress within %v: %w", o.step(c), o.timeout, os.ErrDeadlineExceeded))
				continue // c's place now holds another connection
			}
			if ms := int((left + time.Millisecond - 1) / time.Millisecond); timeout < 0 || ms < timeout {
				timeout = ms
			}
			j++
		}
		if len(o.flight) == 0 {
			continue
		}
		events, err := o.wait(timeout)
		if err != nil {
			for len(o.flight) > 0 {
				fail(o.flight[len(o.flight)-1], err)
			}
			if t != nil {
				t.failN(uint64(n-next), err, false)
			}
			return holders, err
		}
		for _, ev := range events {
			c := o.conns[ev.Fd]
			if c == nil || c.state == leanHeld {
				continue // failed, or seen by wait
			}
			if err := o.advance(c, ev.Events); err != nil {
				fail(c, fmt.Errorf("%s: %w", o.step(c), err))
				continue
			}
			if c.state != leanHeld {
				continue
			}
			if h != nil {
				h.Record(time.Since(c.start).Nanoseconds())
			}
			o.land(c)
			holders = append(holders, c)
		}
	}
	return holders, first
}

// wait waits up to timeout milliseconds (-1: no bound) for events, and
// returns those of connections being opened. It handles the others
// itself: the eventfd's and those of held connections (see watch).
func (o *leanOpener) wait(timeout int) ([]unix.EpollEvent, error) {
	var n int
	for {
		var err error
		// unix.EpollWait, unlike the raw calls, tells the runtime it may
		// block, so that another thread can run the process's goroutines.
		n, err = unix.EpollWait(o.epfd, o.events[:], timeout)
		if err == nil {
			break
		}
		if err != unix.EINTR {
			return nil, fmt.Errorf("connection opener: %w", os.NewSyscallError("epoll_wait", err))
		}
	}
	opening := o.events[:0]
	for _, ev := range o.events[:n] {
		switch c := o.conn(ev.Fd); {
		case ev.Fd == leanWakeToken:
			var b [8]byte
			_, _ = rawsock.ReadFD(o.wakefd, b[:])
		case c == nil:
		case c.state == leanHeld:
			o.watch(c, ev.Events)
		default:
			opening = append(opening, ev)
		}
	}
	return opening, nil
}

// conn returns the connection of epoll token i, or nil.
func (o *leanOpener) conn(i int32) *leanConn {
	if i < 0 || int(i) >= len(o.conns) {
		return nil
	}
	return o.conns[i]
}

// wake makes run's epoll_wait return, from any goroutine.
func (o *leanOpener) wake() {
	o.wakeMu.Lock()
	defer o.wakeMu.Unlock()
	if o.wakefd >= 0 {
		one := [8]byte{1} // any count but 0 makes the eventfd readable
		_, _ = rawsock.WriteFD(o.wakefd, one[:])
	}
}

// shut ends run: it closes the connections still held (when ctx has
// ended) and the epoll set and eventfd.
func (o *leanOpener) shut() {
	for _, c := range o.conns {
		if c != nil {
			_ = c.close()
		}
	}
	o.wakeMu.Lock()
	unix.Close(o.wakefd)
	o.wakefd = -1
	o.wakeMu.Unlock()
	unix.Close(o.epfd)
}

// begin starts opening connection i: a non-blocking socket, bound to i's
// source address, its options as net.Dialer sets them, connect begun, in
// the epoll set. On failure the connection's err is set.
func (o *leanOpener) begin(i int) *leanConn {
	c := &leanConn{o: o, i: i, fd: -1, stopped: make(chan struct{}), start: time.Now()}
	c.deadline = c.start.Add(o.timeout)
	o.conns[i] = c
	o.enter(c)
	if c.fd, c.err = socket(); c.err != nil {
		c.err = fmt.Errorf("dial %s: %w", o.toText, c.err)
		return c
	}
	if len(o.from) > 0 {
		// The port is left to connect, which picks one unused with the
		// server's address and port; bind would pick one unused with any,
		// and with tens of thousands of connections (and those of the
		// previous runs in TIME_WAIT) its search for one cost the load
		// generator more than the rest of the connection. The source
		// address is the same, the port as arbitrary.
		c.err = setsockoptInt(c.fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
		if c.err == nil {
			c.err = bind(c.fd, &o.from[i%len(o.from)])
		}
	}
	if c.err == nil {
		c.err = setDialOptions(c.fd)
	}
	if c.err == nil {
		c.err = connect(c.fd, &o.to)
	}
	if c.err == nil {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(i)}
		c.err = epollCtl(o.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev)
	}
	if c.err != nil {
		c.err = fmt.Errorf("dial %s: %w", o.toText, c.err)
	}
	return c
}

// enter puts c, being opened, in flight, with a buffer.
func (o *leanOpener) enter(c *leanConn) {
	c.slot = len(o.flight)
	o.flight = append(o.flight, c)
	if n := len(o.bufs); n > 0 {
		c.buf, o.bufs = o.bufs[n-1], o.bufs[:n-1]
	} else {
		c.buf = new([leanBufSize]byte)
	}
}

// leave takes c out of flight and gives its buffer back.
func (o *leanOpener) leave(c *leanConn) {
	last := o.flight[len(o.flight)-1]
	o.flight[c.slot], last.slot = last, c.slot
	o.flight = o.flight[:len(o.flight)-1]
	o.bufs = append(o.bufs, c.buf)
	c.buf = nil
}

// drop ends c, which failed while being opened: its socket is closed (no
// other goroutine has it yet) and its token forgotten.
func (o *leanOpener) drop(c *leanConn) {
	o.leave(c)
	o.conns[c.i] = nil
	if c.fd >= 0 {
		_ = closeFD(c.fd)
		c.fd = -1
	}
	close(c.stopped)
}

// land makes c, just opened, a held connection.
func (o *leanOpener) land(c *leanConn) {
	o.leave(c)
	o.live.Add(1)
}

// step names what c was doing, for its errors.
func (o *leanOpener) step(c *leanConn) string {
	switch c.state {
	case leanConnecting:
		return "dial " + o.toText
	case leanRequesting, leanUpgrading:
		return "handshake"
	}
	return "whoami"
}

// advance takes c as far as its socket lets it, after epoll reported ev:
// leanHandshake's steps, without blocking. It returns with c waiting for
// another event, or held.
func (o *leanOpener) advance(c *leanConn, ev uint32) error {
	for {
		switch c.state {
		case leanConnecting:
			if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
				return nil
			}
			if err := connectResult(c.fd); err != nil {
				return err
			}
			if ev&unix.EPOLLOUT == 0 {
				return errLeanConnect
			}
			c.state = leanRequesting
		case leanRequesting, leanAsking:
			out := o.req
			if c.state == leanAsking {
				out = leanWhoami
			}
			m, err := rawsock.WriteFD(c.fd, out[c.sent:])
			if err == unix.EAGAIN {
				return nil // the next EPOLLOUT goes on
			}
			if err != nil {
				return os.NewSyscallError("write", err)
			}
			if c.sent += m; c.sent < len(out) {
				continue
			}
			c.sent = 0
			c.state++
		case leanUpgrading:
			more, err := c.fill(&ev)
			if err != nil || !more {
				return err
			}
			end := leanHeadEnd(c.buf[:c.n])
			if end < 0 {
				if c.n == len(c.buf) {
					return errLeanAnswerTooLong
				}
				continue
			}
			if err := checkLeanHead(c.buf[:end]); err != nil {
				return err
			}
			c.n = copy(c.buf[:], c.buf[end+4:c.n]) // frame bytes that came with the answer
			c.state = leanAsking
		case leanIdentifying:
			if leanFrameComplete(c.buf[:c.n]) {
				if err := checkLeanWhoami(c.buf[:c.n]); err != nil {
					return err
				}
				c.state = leanHeld
				return nil
			}
			if more, err := c.fill(&ev); err != nil || !more {
				return err
			}
		default:
			return nil
		}
	}
}

// watch handles event ev of held connection c: data is read and dropped,
// and the end of the connection closes its done channel. The socket stays
// open until c is closed, as hold's does.
func (o *leanOpener) watch(c *leanConn, ev uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fd < 0 || c.ended {
		return
	}
	// Read to the end of what has arrived, even when the server has
	// closed its side: a socket closed with unread data sends a reset
	// rather than hold's FIN.
	closing := ev&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	ended := false
	for ev&unix.EPOLLIN != 0 || closing {
		m, err := rawsock.ReadFD(c.fd, o.discard[:])
		if err == unix.EAGAIN {
			break
		}
		if err != nil || m == 0 {
			ended = true
			break
		}
		if m < len(o.discard) && !closing {
			break // all that had arrived; more is another event
		}
	}
	if ended {
		c.ended = true
		close(c.stopped)
	}
}

// leanConn is one connection of a leanOpener, being opened and then held.
type leanConn struct {
	o       *leanOpener
	stopped chan struct{} // closed when the connection ends or is closed

	mu    sync.Mutex
	fd    int  // the socket; -1 once closed. Guarded by mu once held.
	ended bool // stopped is closed; guarded by mu

	// Opening, touched only by the opener's goroutine.
	i        int // index: the epoll token
	slot     int // place in the opener's flight
	state    int
	sent     int // bytes of the current write written
	buf      *[leanBufSize]byte
	n        int // bytes in buf
	err      error
	start    time.Time
	deadline time.Time
}

func (c *leanConn) done() <-chan struct{} { return c.stopped }

// close closes c's socket, from any goroutine; see leanOpener. The last
// connection of an opener to close wakes its goroutine to end it.
func (c *leanConn) close() error {
	c.mu.Lock()
	fd := c.fd
	if fd < 0 {
		c.mu.Unlock()
		return nil
	}
	c.fd = -1
	err := closeFD(fd)
	if !c.ended {
		c.ended = true
		close(c.stopped)
	}
	c.mu.Unlock()
	if c.o.live.Add(-1) == 0 {
		c.o.wake()
	}
	if err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// fill reads what has arrived on c after the events *ev into its buffer.
// more reports whether it read anything; once a read takes less than it
// could, all that had arrived is in (so EPOLLIN is cleared from *ev: with
// edge-triggered epoll, what arrives later is another event), and
// reading again would only be told EAGAIN.
func (c *leanConn) fill(ev *uint32) (more bool, err error) {
	if *ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return false, nil
	}
	space := c.buf[c.n:]
	if len(space) == 0 {
		return false, errLeanAnswerTooLong
	}
	m, err := rawsock.ReadFD(c.fd, space)
	switch {
	case err == unix.EAGAIN:
		*ev &^= unix.EPOLLIN
		return false, nil
	case err != nil:
		return false, os.NewSyscallError("read", err)
	case m == 0:
		return false, io.EOF
	case m < len(space):
		*ev &^= unix.EPOLLIN
	}
	c.n += m
	return true, nil
}

// errLeanStopped is the error of the connections in flight when another
// one's failure stops an opener without a tally.
var errLeanStopped = errors.New("stopped by another connection's failure")

// errLeanConnect is the error of a socket that epoll reports hung up
// before connect completed, without an error of its own.
var errLeanConnect = errors.New("connection closed while connecting")

// The system calls of opening a connection. They never block, so they are
// raw (see rawsock): they skip the runtime's bookkeeping for calls that
// may.

// socket makes a non-blocking TCP socket.
func socket() (int, error) {
	fd, _, errno := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if errno != 0 {
		return -1, os.NewSyscallError("socket", errno)
	}
	return int(fd), nil
}

// bind binds fd to sa.
func bind(fd int, sa *unix.RawSockaddrInet4) error {
	_, _, errno := unix.RawSyscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
	if errno != 0 {
		return os.NewSyscallError("bind", errno)
	}
	return nil
}

// connect begins connecting non-blocking fd to sa.
func connect(fd int, sa *unix.RawSockaddrInet4) error {
	_, _, errno := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(sa)), unix.SizeofSockaddrInet4)
	switch errno {
	case 0, unix.EINPROGRESS, unix.EINTR: // EINTR: it goes on, as EINPROGRESS
		return nil
	}
	return os.NewSyscallError("connect", errno)
}

// connectResult returns the result of the connect begun on fd.
func connectResult(fd int) error {
	v, err := getsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if v != 0 {
		return os.NewSyscallError("connect", syscall.Errno(v))
	}
	return nil
}

// setDialOptions sets the options net.Dialer sets on a TCP connection by
// default, so that the server sees the same segments: no Nagle delay, and
// keep-alive probes after 15 s idle, every 15 s, 9 of them.
func setDialOptions(fd int) error {
	for _, opt := range [...]struct{ level, name, value int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
	} {
		if err := setsockoptInt(fd, opt.level, opt.name, opt.value); err != nil {
			return err
		}
	}
	return nil
}

// setsockoptInt sets an int option of fd.
func setsockoptInt(fd, level, name, value int) error {
	v := int32(value)
	_, _, errno := unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&v)), 4, 0)
	if errno != 0 {
		return os.NewSyscallError("setsockopt", errno)
	}
	return nil
}

// getsockoptInt reads an int option of fd.
func getsockoptInt(fd, level, name int) (int, error) {
	var v int32
	size := uint32(4)
	_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(name), uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 {
		return 0, os.NewSyscallError("getsockopt", errno)
	}
	return int(v), nil
}

// epollCtl changes fd's place in epoll set epfd.
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("epoll_ctl", errno)
	}
	return nil
}

// closeFD closes fd. A socket's close does not block unless SO_LINGER is
// set, which these sockets never have.
func closeFD(fd int) error {
	_, _, errno := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if errno != 0 {
		return os.NewSyscallError("close", errno)
	}
	return nil
}
