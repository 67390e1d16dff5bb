package bench

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/monologue-go/monologue/bench/sio"
)

// sioDriver drives the Socket.IO server (bench/js/server.js) with the
// minimal Go client of package sio: a call is emitted to the server with an
// ack; the server relays it to the target socket with emitWithAck and acks
// the caller with the answer.
type sioDriver struct{ url string }

func (d *sioDriver) dial(ctx context.Context, from net.IP, onEvent func(string, [][]byte, sio.Ack)) (*sio.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := sio.Dial(ctx, d.url, &sio.Options{Dialer: wsDialer(from), OnEvent: onEvent})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	return c, nil
}

func (d *sioDriver) callee(ctx context.Context, answer func(string) string) (string, func() error, error) {
	c, err := d.dial(ctx, nil, func(event string, args [][]byte, ack sio.Ack) {
		if event != "call" || ack == nil || len(args) != 1 {
			return
		}
		arg, err := sio.Unquote(args[0])
		if err != nil {
			_ = ack([]byte(`{"error":"bad argument"}`))
			return
		}
		_ = ack(sio.String(answer(arg)))
	})
	if err != nil {
		return "", nil, err
	}
	return c.SID(), c.Close, nil
}

func (d *sioDriver) caller(ctx context.Context) (caller, error) {
	c, err := d.dial(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	return sioClient{c}, nil
}

func (d *sioDriver) publisher(ctx context.Context) (publisher, error) {
	c, err := d.dial(ctx, nil, nil)
	if err != nil {
		return nil, err
	}
	return sioClient{c}, nil
}

type sioClient struct{ c *sio.Conn }

func (s sioClient) call(ctx context.Context, to, arg string) (string, error) {
	ret, err := s.c.EmitWithAck(ctx, "call", sio.String(to), sio.String(arg))
	if err != nil {
		return "", err
	}
	if len(ret) != 1 {
		return "", fmt.Errorf("ack with %d arguments", len(ret))
	}
	if len(ret[0]) > 0 && ret[0][0] == '{' {
		return "", fmt.Errorf("server: %s", ret[0])
	}
	return sio.Unquote(ret[0])
}

func (s sioClient) publish(_ context.Context, channel, payload string) error {
	return s.c.Emit("publish", sio.String(channel), sio.String(payload))
}

func (s sioClient) close() error { return s.c.Close() }

func (d *sioDriver) hold(ctx context.Context, from net.IP) (holder, error) {
	c, err := d.dial(ctx, from, nil)
	if err != nil {
		return nil, err
	}
	return sioHolder{c}, nil
}

func (d *sioDriver) subscribe(ctx context.Context, from net.IP, channel string, deliver func([]byte)) (holder, error) {
	c, err := d.dial(ctx, from, func(event string, args [][]byte, _ sio.Ack) {
		if event != "message" || len(args) != 1 {
			deliver(nil)
			return
		}
		payload, err := unquoteBytes(args[0])
		if err != nil {
			payload = nil
		}
		deliver(payload)
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ret, err := c.EmitWithAck(ctx, "subscribe", sio.String(channel))
	if err == nil && (len(ret) != 1 || string(ret[0]) != "true") {
		err = errors.New("subscription not acknowledged")
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	return sioHolder{c}, nil
}

type sioHolder struct{ c *sio.Conn }

func (h sioHolder) done() <-chan struct{} { return h.c.Done() }
func (h sioHolder) close() error          { return h.c.Close() }
