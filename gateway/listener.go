package gateway

import (
	"net"
	"sync"
)

// Listener returns the listener to serve [Gateway.Handler] on, with an
// http.Server from [Gateway.HTTPServer]: ln itself, or, when the gateway
// runs event loops (see Options.EventLoops) and ln is a TCP listener, a
// listener whose connections the loops accept. A loop reads each new
// connection's first request itself and answers a WebSocket upgrade on
// the spot, so that the connection never passes through net/http, a
// goroutine of its own, or Go's netpoller; every other request (POST
// /channels, GET /healthz, anything malformed or unusual) reaches the
// http.Server through the returned listener, with the bytes already read,
// and is served as always. Closing the returned listener closes ln.
func (g *Gateway) Listener(ln net.Listener) net.Listener {
	tcp, ok := ln.(*net.TCPListener)
	if !ok || g.loops.n == 0 {
		return ln
	}
	g.startLoops()
	if len(g.loops.all) == 0 {
		return ln
	}
	wrapped := &loopListener{Listener: ln, conns: make(chan net.Conn), closed: make(chan struct{})}
	if err := g.listenOnLoops(tcp, wrapped); err != nil {
		g.log.Error("event loops cannot accept: net/http serves every handshake", "err", err)
		return ln
	}
	return wrapped
}

// loopListener is the listener Gateway.Listener returns: its connections
// are the ones the loops handed back to net/http.
type loopListener struct {
	net.Listener // the original, for Addr and Close
	conns        chan net.Conn
	closed       chan struct{}
	closeOnce    sync.Once
	unlisten     func() // stops the loops accepting
}

// Accept returns the next connection the loops hand back.
func (l *loopListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close stops the loops accepting and closes the original listener.
func (l *loopListener) Close() error {
	err := net.ErrClosed
	l.closeOnce.Do(func() {
		close(l.closed)
		if l.unlisten != nil {
			l.unlisten()
		}
		err = l.Listener.Close()
	})
	return err
}

// handBack gives c to the http.Server, or closes it once the listener is
// closed. It never blocks its caller (a loop).
func (l *loopListener) handBack(c net.Conn) {
	select {
	case l.conns <- c:
		return
	case <-l.closed:
		_ = c.Close()
		return
	default:
	}
	go func() {
		select {
		case l.conns <- c:
		case <-l.closed:
			_ = c.Close()
		}
	}()
}

// replayConn is a connection handed back to net/http: what the loop read
// of it comes first.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
