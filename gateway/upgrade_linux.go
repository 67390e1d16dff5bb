//go:build linux

package gateway

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Limits of a loop's handshakes.
const (
	// maxUpgradeRequest is the most a loop reads of a request before it
	// hands the connection to net/http, which allows more.
	maxUpgradeRequest = 4096
	// acceptBatch is the most connections a loop accepts in a round.
	acceptBatch = 64
	// acceptPause is how long a loop stops accepting when the process is
	// out of descriptors or memory.
	acceptPause = 100 * time.Millisecond
	// tcpKeepAlive is the keep-alive period of accepted sockets, as Go's
	// net package sets it on the sockets it accepts.
	tcpKeepAlive = 15
)

// acceptor is a listener's socket in a loop's epoll set (a duplicate per
// loop, EPOLLEXCLUSIVE, so one loop wakes for a new connection).
type acceptor struct {
	fd          int
	to          *loopListener
	pausedUntil int64 // not in the epoll set until then (0: it is)
}

// upgrade is a connection a loop accepted, whose first request it reads.
type upgrade struct {
	l      *loop
	fd     int
	to     *loopListener
	buf    []byte
	since  int64  // Unix nanoseconds of the accept
	remote string // "ip:port"
	rest   []byte // what came after the request
	done   bool   // upgraded, handed back or dropped: the loop lets go of it
}

// upgradeReaders reads requests out of a loop's buffer.
var upgradeReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxUpgradeRequest) }}

// listenOnLoops gives every loop a duplicate of tcp's socket to accept on,
// for wrapped, and sets what stops them.
func (g *Gateway) listenOnLoops(tcp *net.TCPListener, wrapped *loopListener) error {
	raw, err := tcp.SyscallConn()
	if err != nil {
		return err
	}
	var fds []int
	for range g.loops.all {
		var derr error
		fd := -1
		if err := raw.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || derr != nil {
			for _, fd := range fds {
				_ = unix.Close(fd)
			}
			return errors.Join(err, derr)
		}
		fds = append(fds, fd)
	}
	acceptors := make([]*acceptor, len(fds))
	for i, fd := range fds {
		acceptors[i] = &acceptor{fd: fd, to: wrapped}
		g.loops.all[i].post(loopTask{kind: taskListen, a: acceptors[i]})
	}
	wrapped.unlisten = func() {
		for i, a := range acceptors {
			g.loops.all[i].post(loopTask{kind: taskUnlisten, a: a})
		}
	}
	return nil
}

// listen puts a in the loop's epoll set.
func (l *loop) listen(a *acceptor) {
	l.mu.Lock()
	l.others[int32(a.fd)] = a
	err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, a.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(a.fd)})
	l.mu.Unlock()
	if err != nil {
		l.g.log.Error("event loop: cannot accept", "err", err)
	}
}

// unlisten takes a out of the loop and closes it.
func (l *loop) unlisten(a *acceptor) {
	l.mu.Lock()
	delete(l.others, int32(a.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, a.fd, nil)
	l.mu.Unlock()
	_ = unix.Close(a.fd)
	a.fd = -1
}

// accept accepts the connections waiting on a, up to acceptBatch (the
// epoll set is level-triggered for listeners: what is left wakes the next
// round).
func (l *loop) accept(a *acceptor) {
	if a.fd < 0 || a.pausedUntil != 0 {
		return
	}
	for range acceptBatch {
		fd, sa, err := unix.Accept4(a.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.ECONNABORTED || err == unix.EINTR:
			continue
		case err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOBUFS || err == unix.ENOMEM:
			// Out of descriptors or memory: stop accepting for a while
			// rather than spin on a listener that stays readable.
			l.g.log.Warn("event loop: accept paused", "err", err, "pause", acceptPause)
			l.mu.Lock()
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, a.fd, nil)
			l.mu.Unlock()
			a.pausedUntil = time.Now().Add(acceptPause).UnixNano()
			l.nextSweep = min(l.nextSweep, a.pausedUntil)
			return
		case err != nil:
			l.g.log.Error("event loop: accept", "err", err)
			return
		}
		setAcceptedOptions(fd)
		up := &upgrade{l: l, fd: fd, to: a.to, since: time.Now().UnixNano(), remote: sockaddrString(sa)}
		l.mu.Lock()
		l.others[int32(fd)] = up
		err = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{
			Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET,
			Fd:     int32(fd),
		})
		if err != nil {
			delete(l.others, int32(fd))
		}
		l.mu.Unlock()
		if err != nil {
			l.g.log.Error("event loop: epoll_ctl", "err", err)
			_ = unix.Close(fd)
			continue
		}
		if timeout := l.g.opts.HTTPReadTimeout; timeout > 0 {
			l.nextSweep = min(l.nextSweep, up.since+int64(timeout))
		}
		// The request may be there already; when it is not, its arrival
		// is an edge.
		l.readUpgrade(up)
	}
}

// resume puts a paused acceptor back in the epoll set once its pause is
// over (sweep calls it).
func (l *loop) resume(a *acceptor, now int64) {
	if a.fd < 0 || a.pausedUntil == 0 || now < a.pausedUntil {
		return
	}
	a.pausedUntil = 0
	l.mu.Lock()
	err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, a.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLEXCLUSIVE, Fd: int32(a.fd)})
	l.mu.Unlock()
	if err != nil {
		l.g.log.Error("event loop: cannot accept", "err", err)
	}
}

// setAcceptedOptions sets what Go's net package sets on an accepted TCP
// socket: no Nagle delay, and keep-alives every 15 s.
func setAcceptedOptions(fd int) {
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, tcpKeepAlive)
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, tcpKeepAlive)
}

// sockaddrString is the "ip:port" of an accepted socket's peer.
func sockaddrString(sa unix.Sockaddr) string {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)).String()
	}
	return ""
}

// readUpgrade reads what has arrived of up's request, and serves it once
// its headers are whole.
func (l *loop) readUpgrade(up *upgrade) {
	if up.done {
		return
	}
	if up.buf == nil {
		up.buf = make([]byte, 0, maxUpgradeRequest)
	}
	b := up.buf
	n, err := rawsock.ReadFD(up.fd, b[len(b):cap(b)])
	if err == syscall.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		l.dropUpgrade(up) // gone before its request was whole
		return
	}
	b = b[:len(b)+n]
	up.buf = b
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) == cap(b) {
			l.handBack(up) // net/http decides what a request this long gets
		}
		return
	}
	l.serveUpgrade(up, end+4)
}

// serveUpgrade serves the request in up.buf[:end]: a WebSocket upgrade it
// can answer itself, through the same handshake net/http's requests go
// through; anything else goes back to net/http.
func (l *loop) serveUpgrade(up *upgrade, end int) {
	br := upgradeReaders.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(up.buf[:end]))
	req, err := http.ReadRequest(br)
	br.Reset(nil)
	upgradeReaders.Put(br)
	if err != nil {
		l.handBack(up)
		return
	}
	stage, ok := l.g.loopUpgradable(req)
	if !ok {
		l.handBack(up)
		return
	}
	req.RemoteAddr = up.remote
	if len(up.buf) > end {
		up.rest = bytes.Clone(up.buf[end:])
	}
	w := &rawResponse{header: make(http.Header)}
	l.g.handshake(w, req, stage, up)
	if !up.done { // refused (the answer, then the end), or the 101 failed
		if w.status != 0 {
			_, _ = rawsock.WriteFD(up.fd, w.bytes())
		}
		l.dropUpgrade(up)
	}
}

// loopUpgradable reports whether a loop answers req itself, and the stage
// its path names: a well-formed WebSocket upgrade, by GET over HTTP/1.1,
// with no body, to a path the public mux sends to the handshake ("/",
// "/{stage}", "/{stage}/"), from a client whose API key is known. Anything
// else goes to net/http, which answers it as always.
func (g *Gateway) loopUpgradable(req *http.Request) (stage string, ok bool) {
	if req.Method != http.MethodGet || req.ProtoMajor != 1 || req.ProtoMinor != 1 || !validHost(req.Host) ||
		req.ContentLength != 0 || len(req.TransferEncoding) != 0 || req.Header.Get("Expect") != "" ||
		req.URL.RawPath != "" || checkUpgrade(req) != "" || !validKey(req.Header.Get("Sec-WebSocket-Key")) {
		return "", false
	}
	path := req.URL.Path
	switch {
	case path == "/":
	case strings.HasPrefix(path, "/"):
		stage = strings.TrimSuffix(path[1:], "/")
		if stage == "" || strings.Contains(stage, "/") || stage == "." || stage == ".." || path == "/healthz" {
			return "", false
		}
	default:
		return "", false
	}
	if _, ok := g.keys.lookup(requestKey(req)); !ok {
		return "", false
	}
	if li, ok := g.integration.(LoopIntegration); ok && !li.Immediate(&relay.Event{Route: wire.RouteConnect}) {
		return "", false // its $connect waits: a goroutine of net/http's runs it
	}
	return stage, true
}

// validHost reports whether host is a Host header net/http would take
// without question: not empty, and only printable ASCII that no URL
// needs quoted.
func validHost(host string) bool {
	if host == "" {
		return false
	}
	for i := range len(host) {
		if b := host[i]; b <= ' ' || b >= 0x7f || strings.IndexByte(`"<>\^`+"`"+`{|}`, b) >= 0 {
			return false
		}
	}
	return true
}

// validKey reports whether key is a Sec-WebSocket-Key: 16 bytes in base64.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// acceptKey is the Sec-WebSocket-Accept that answers key (RFC 6455 §4.2.2).
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// complete answers up's request with 101 and returns its connection, which
// the loop owns from now on.
func (up *upgrade) complete(g *Gateway, r *http.Request, id string, identity relay.Identity, stage string) (*conn, error) {
	answer := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(r.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
	n, err := rawsock.WriteFD(up.fd, []byte(answer))
	if err != nil || n < len(answer) {
		return nil, fmt.Errorf("write the 101 answer: wrote %d of %d bytes: %v", n, len(answer), err)
	}
	l := up.l
	l.mu.Lock()
	delete(l.others, int32(up.fd))
	l.mu.Unlock()
	up.done = true
	l.answered.Add(1)
	c := newConn(g, nil, id, identity, stage)
	c.lp, c.fd = l, up.fd
	c.readable = make(chan struct{}, 1)
	c.writable = make(chan struct{}, 1)
	c.early = up.rest
	up.buf, up.rest = nil, nil
	return c, nil
}

// handBack gives up's connection to net/http, with what the loop read of
// it.
func (l *loop) handBack(up *upgrade) {
	up.done = true
	l.mu.Lock()
	delete(l.others, int32(up.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, up.fd, nil)
	l.mu.Unlock()
	f := os.NewFile(uintptr(up.fd), "tcp")
	nc, err := net.FileConn(f) // a descriptor of its own, in Go's netpoller
	_ = f.Close()
	if err != nil {
		l.g.log.Error("event loop: hand a connection to net/http", "err", err)
		return
	}
	up.to.handBack(&replayConn{Conn: nc, pending: up.buf})
	up.buf = nil
}

// dropUpgrade closes a connection whose request will not be served.
func (l *loop) dropUpgrade(up *upgrade) {
	up.done = true
	l.mu.Lock()
	delete(l.others, int32(up.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, up.fd, nil)
	_ = unix.Close(up.fd)
	l.mu.Unlock()
	up.buf = nil
}

// sweepOthers drops the handshakes whose request has not come whole within
// HTTPReadTimeout (net/http closes those too), resumes paused acceptors,
// and returns the next moment either is due (0: none).
func (l *loop) sweepOthers(now int64) (next int64) {
	timeout := int64(l.g.opts.HTTPReadTimeout)
	var late []*upgrade
	var paused []*acceptor
	l.mu.Lock()
	for _, o := range l.others {
		switch o := o.(type) {
		case *upgrade:
			if timeout <= 0 {
				continue
			}
			if at := o.since + timeout; at <= now {
				late = append(late, o)
			} else if next == 0 || at < next {
				next = at
			}
		case *acceptor:
			if o.pausedUntil != 0 {
				paused = append(paused, o)
			}
		}
	}
	l.mu.Unlock()
	for _, up := range late {
		l.dropUpgrade(up)
	}
	for _, a := range paused {
		l.resume(a, now)
		if a.pausedUntil != 0 && (next == 0 || a.pausedUntil < next) {
			next = a.pausedUntil
		}
	}
	return next
}

// closeOthers closes the listeners' duplicates and the handshakes still
// open when the loop stops.
func (l *loop) closeOthers() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for fd, o := range l.others {
		if up, ok := o.(*upgrade); ok {
			up.done = true
		}
		_ = unix.Close(int(fd))
		delete(l.others, fd)
	}
}

// rawResponse is the http.ResponseWriter of a handshake a loop serves
// that is refused: what the handshake writes is sent as an HTTP/1.1
// response that closes the connection.
type rawResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *rawResponse) Header() http.Header { return w.header }

func (w *rawResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *rawResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(p)
}

// bytes is the response, whole.
func (w *rawResponse) bytes() []byte {
	w.WriteHeader(http.StatusOK)
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %03d %s\r\n", w.status, http.StatusText(w.status))
	w.header.Set("Content-Length", strconv.Itoa(w.body.Len()))
	w.header.Set("Connection", "close")
	w.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	_ = w.header.Write(&out)
	out.WriteString("\r\n")
	out.Write(w.body.Bytes())
	return out.Bytes()
}
