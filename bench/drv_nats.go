package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// natsDriver drives nats-server over its WebSocket listener. Callers,
// callees and the publisher are nats.go (request-reply: each callee
// subscribes to a subject of its own and responds with the payload);
// subscribers and held connections are bare WebSockets speaking the NATS
// text protocol.
type natsDriver struct{ url string }

func (d *natsDriver) connect() (*nats.Conn, error) {
	nc, err := nats.Connect(d.url, nats.Name("monologue-bench"), nats.NoReconnect(), nats.Timeout(dialTimeout))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", d.url, err)
	}
	return nc, nil
}

func (d *natsDriver) callee(_ context.Context, answer func(string) string) (string, func() error, error) {
	nc, err := d.connect()
	if err != nil {
		return "", nil, err
	}
	subject := "bench.echo." + nuid.Next()
	_, err = nc.Subscribe(subject, func(m *nats.Msg) {
		_ = m.Respond([]byte(answer(string(m.Data))))
	})
	if err == nil {
		err = nc.Flush() // the server has the subscription before any call
	}
	if err != nil {
		nc.Close()
		return "", nil, fmt.Errorf("subscribe callee: %w", err)
	}
	return subject, func() error { nc.Close(); return nil }, nil
}

func (d *natsDriver) caller(context.Context) (caller, error) {
	nc, err := d.connect()
	if err != nil {
		return nil, err
	}
	return natsClient{nc}, nil
}

func (d *natsDriver) publisher(context.Context) (publisher, error) {
	nc, err := d.connect()
	if err != nil {
		return nil, err
	}
	return natsClient{nc}, nil
}

type natsClient struct{ nc *nats.Conn }

func (n natsClient) call(ctx context.Context, to, arg string) (string, error) {
	m, err := n.nc.RequestWithContext(ctx, to, []byte(arg))
	if err != nil {
		return "", err
	}
	return string(m.Data), nil
}

func (n natsClient) publish(_ context.Context, channel, payload string) error {
	return n.nc.Publish(channel, []byte(payload))
}

func (n natsClient) close() error { n.nc.Close(); return nil }

func (d *natsDriver) hold(ctx context.Context, from net.IP) (holder, error) {
	return d.dialRaw(ctx, from, "", nil)
}

func (d *natsDriver) subscribe(ctx context.Context, from net.IP, channel string, deliver func([]byte)) (holder, error) {
	return d.dialRaw(ctx, from, "SUB "+channel+" 1\r\n", deliver)
}

// dialRaw opens a bare NATS-over-WebSocket connection from source address
// from: it reads INFO, sends CONNECT, then commands, then PING, and returns
// once PONG arrives (so the server has processed the commands).
func (d *natsDriver) dialRaw(ctx context.Context, from net.IP, commands string, deliver func([]byte)) (holder, error) {
	ws, _, err := wsDialer(from).DialContext(ctx, d.url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", d.url, err)
	}
	p := &natsParser{onMsg: deliver, onPing: func() error {
		return ws.WriteMessage(websocket.BinaryMessage, []byte("PONG\r\n"))
	}}
	hello := `CONNECT {"verbose":false,"pedantic":false,"protocol":1,"name":"monologue-bench"}` + "\r\n" + commands + "PING\r\n"
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte(hello)); err != nil {
		ws.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	deadline := time.Now().Add(dialTimeout)
	for p.pongs == 0 {
		msg, err := readWithin(ws, time.Until(deadline))
		if err == nil {
			err = p.feed(msg)
		}
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("connect: %w", err)
		}
	}
	return startHolder(ws, p.feed), nil
}

// natsParser parses the server side of the NATS text protocol from a
// stream of WebSocket frames (a protocol line may span frames).
type natsParser struct {
	buf    []byte
	onMsg  func(payload []byte) // nil: ignore messages
	onPing func() error
	pongs  int
}

var crlf = []byte("\r\n")

func (p *natsParser) feed(frame []byte) error {
	p.buf = append(p.buf, frame...)
	for {
		i := bytes.Index(p.buf, crlf)
		if i < 0 {
			break
		}
		line := p.buf[:i]
		next := i + 2
		switch {
		case bytes.HasPrefix(line, []byte("MSG ")):
			fields := bytes.Fields(line)
			size, err := strconv.Atoi(string(fields[len(fields)-1]))
			if err != nil || len(fields) < 4 {
				return fmt.Errorf("bad MSG line %.100q", line)
			}
			if len(p.buf) < next+size+2 {
				return nil // the payload is in a frame yet to come
			}
			if p.onMsg != nil {
				p.onMsg(p.buf[next : next+size])
			}
			next += size + 2
		case bytes.Equal(line, []byte("PING")):
			if err := p.onPing(); err != nil {
				return err
			}
		case bytes.Equal(line, []byte("PONG")):
			p.pongs++
		case bytes.HasPrefix(line, []byte("-ERR")):
			return errors.New(string(line))
		}
		p.buf = p.buf[next:]
	}
	if len(p.buf) == 0 {
		p.buf = nil
	}
	return nil
}
