package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"
)

// leanHandshakeKey is the Sec-WebSocket-Key of every lean handshake, and
// leanAccept the Sec-WebSocket-Accept a server must answer it with (RFC
// 6455 §1.3's example). A fixed key is fine for a load generator: the server
// checks its form, not its freshness.
const (
	leanHandshakeKey = "dGhlIHNhbXBsZSBub25jZQ=="
	leanAccept       = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// leanWhoami is the client frame "whoami", masked with a zero mask (the
// masked bytes equal the text).
var leanWhoami = []byte{0x81, 0x80 | 6, 0, 0, 0, 0, 'w', 'h', 'o', 'a', 'm', 'i'}

// hold opens a connection the way the leanest client would, so that the
// connect and idle scenarios measure the server more than the load
// generator: a TCP connection, a handshake request written whole from
// bytes made once, the answer checked for 101 and the expected accept key,
// then "whoami" and its answer, read with one buffer. What it holds is the
// socket and a goroutine blocked reading it, which sees the server close.
func (d *plainDriver) hold(ctx context.Context, from net.IP) (holder, error) {
	req, addr, err := d.leanRequest()
	if err != nil {
		return nil, err
	}
	nd := net.Dialer{Timeout: dialTimeout}
	if from != nil {
		nd.LocalAddr = &net.TCPAddr{IP: from}
	}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if err := leanHandshake(c, req); err != nil {
		c.Close()
		return nil, err
	}
	h := &leanHolder{c: c, stopped: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		var buf [512]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
	return h, nil
}

// leanRequest returns the handshake request of d's URL, made once.
func (d *plainDriver) leanRequest() ([]byte, string, error) {
	d.leanOnce.Do(func() {
		u, err := url.Parse(d.url)
		if err != nil {
			d.leanErr = err
			return
		}
		path := u.RequestURI()
		d.leanAddr = u.Host
		d.leanReq = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nX-Api-Key: %s\r\n\r\n", path, u.Host, leanHandshakeKey, d.apiKey)
	})
	return d.leanReq, d.leanAddr, d.leanErr
}

// leanHandshake upgrades c and checks that "whoami" is answered with a
// connection ID.
func leanHandshake(c net.Conn, req []byte) error {
	_ = c.SetDeadline(time.Now().Add(dialTimeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	var buf [1024]byte
	n := 0
	end := -1
	for end < 0 {
		if n == len(buf) {
			return errors.New("handshake: answer too long")
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		n += m
		end = bytes.Index(buf[:n], []byte("\r\n\r\n"))
	}
	head := buf[:end]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) || !bytes.Contains(head, []byte(leanAccept)) {
		return fmt.Errorf("handshake: answer %.200q", head)
	}
	rest := n - (end + 4) // frame bytes that came with the answer
	copy(buf[:], buf[end+4:n])
	n = rest
	if _, err := c.Write(leanWhoami); err != nil {
		return fmt.Errorf("whoami: %w", err)
	}
	// The answer is a short unmasked text frame: 2 header bytes, then the ID.
	for n < 2 || n < 2+int(buf[1]&0x7f) {
		m, err := c.Read(buf[n:])
		if err != nil {
			return fmt.Errorf("whoami: %w", err)
		}
		n += m
	}
	if buf[0] != 0x81 || buf[1]&0x7f > 125 {
		return fmt.Errorf("whoami: answer %.100q", buf[:n])
	}
	id := buf[2 : 2+int(buf[1]&0x7f)]
	if len(id) == 0 || id[0] == '{' {
		return fmt.Errorf("whoami: answer %.100q is not a connection ID", id)
	}
	return nil
}

// leanHolder is a connection opened by plainDriver.hold.
type leanHolder struct {
	c       net.Conn
	stopped chan struct{}
}

func (h *leanHolder) done() <-chan struct{} { return h.stopped }

func (h *leanHolder) close() error {
	err := h.c.Close()
	<-h.stopped
	return err
}
