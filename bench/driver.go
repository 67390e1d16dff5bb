package bench

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"
	"github.com/monologue-go/monologue/bench/peers"
)

// driver connects the load generator to one peer's server. Each peer has
// one; the scenarios see only this interface, so every peer gets the same
// scenario, payloads, timing and verification.
type driver interface {
	// callee connects a client that answers each echo call with
	// answer(argument) and returns the address callers reach it by.
	callee(ctx context.Context, answer func(string) string) (addr string, closeFn func() error, err error)
	// caller connects a client that makes echo calls.
	caller(ctx context.Context) (caller, error)
	// publisher connects a client that publishes to channels.
	publisher(ctx context.Context) (publisher, error)
	// subscribe connects from source address from, joins channel, and
	// returns once the server has confirmed it; deliver is then called, from
	// one goroutine, with the payload (decoded) of each message, or with nil
	// for a frame that is not one.
	subscribe(ctx context.Context, from net.IP, channel string, deliver func([]byte)) (holder, error)
	// hold connects from source address from, completes the handshake and
	// the identity exchange (whoami, or the peer's equivalent), and keeps
	// the connection open, answering keep-alives, until closed.
	hold(ctx context.Context, from net.IP) (holder, error)
}

// caller makes echo calls; call is safe for concurrent use.
type caller interface {
	// call calls echo on the callee at address to with the string arg and
	// returns the string it answered.
	call(ctx context.Context, to, arg string) (string, error)
	close() error
}

// publisher publishes a string payload to a channel without waiting for
// delivery.
type publisher interface {
	publish(ctx context.Context, channel, payload string) error
	close() error
}

// holder is an open connection held by the load generator.
type holder interface {
	// done is closed when the connection has failed or closed.
	done() <-chan struct{}
	close() error
}

// newDriver returns the driver of peer name, whose server announced ready.
func newDriver(name string, ready peers.Ready, apiKey string) (driver, error) {
	switch name {
	case "monologue" + plainSuffix, "floor" + plainSuffix:
		return &plainDriver{monologueDriver: monologueDriver{url: ready.URL, apiKey: apiKey}}, nil
	case "monologue", "floor":
		return &monologueDriver{url: ready.URL, apiKey: apiKey}, nil
	case "nats":
		return &natsDriver{url: ready.URL}, nil
	case "socketio":
		return &sioDriver{url: ready.URL}, nil
	}
	return nil, fmt.Errorf("no driver for peer %q", name)
}

// dialTimeout bounds each connection's handshake.
const dialTimeout = 20 * time.Second

// wsDialer returns a gorilla dialer with small buffers (the many-connection
// scenarios hold thousands) whose TCP connections start from source address
// from (nil: any).
func wsDialer(from net.IP) *websocket.Dialer {
	nd := &net.Dialer{Timeout: dialTimeout}
	if from != nil {
		nd.LocalAddr = &net.TCPAddr{IP: from}
	}
	return &websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: dialTimeout,
		ReadBufferSize:   2048,
		WriteBufferSize:  2048,
	}
}

// sourceAddr returns the source address of the i-th connection of a
// many-connection scenario: 127.0.0.2, 127.0.0.3, … cycling over n
// addresses, so that no address runs out of ephemeral ports.
func sourceAddr(i, n int) net.IP {
	if n <= 0 {
		return nil
	}
	return net.IPv4(127, 0, byte(i%n/250), byte(2+i%n%250))
}

// wsHolder holds a gorilla WebSocket whose reader goroutine runs until the
// connection fails; gorilla answers pings while it reads.
type wsHolder struct {
	ws      *websocket.Conn
	stopped chan struct{}
}

// startHolder starts the reader of ws: onFrame (nil: none) sees each frame.
func startHolder(ws *websocket.Conn, onFrame func([]byte) error) *wsHolder {
	h := &wsHolder{ws: ws, stopped: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if onFrame != nil {
				if err := onFrame(msg); err != nil {
					ws.Close()
					return
				}
			}
		}
	}()
	return h
}

func (h *wsHolder) done() <-chan struct{} { return h.stopped }

func (h *wsHolder) close() error {
	err := h.ws.Close()
	<-h.stopped
	return err
}

// readWithin reads one message, giving up after timeout.
func readWithin(ws *websocket.Conn, timeout time.Duration) ([]byte, error) {
	_ = ws.SetReadDeadline(time.Now().Add(timeout))
	defer ws.SetReadDeadline(time.Time{})
	_, msg, err := ws.ReadMessage()
	return msg, err
}
