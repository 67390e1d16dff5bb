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
	var buf [leanBufSize]byte
	n := 0
	end := -1
	for end < 0 {
		if n == len(buf) {
			return errLeanAnswerTooLong
		}
		m, err := c.Read(buf[n:])
		if err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		n += m
		end = leanHeadEnd(buf[:n])
	}
	if err := checkLeanHead(buf[:end]); err != nil {
		return err
	}
	n = copy(buf[:], buf[end+4:n]) // frame bytes that came with the answer
	if _, err := c.Write(leanWhoami); err != nil {
		return fmt.Errorf("whoami: %w", err)
	}
	for !leanFrameComplete(buf[:n]) {
		m, err := c.Read(buf[n:])
		if err != nil {
			return fmt.Errorf("whoami: %w", err)
		}
		n += m
	}
	return checkLeanWhoami(buf[:n])
}

// leanBufSize is the buffer a lean handshake reads its answers into: an
// answer head longer than this is an error.
const leanBufSize = 1024

// errLeanAnswerTooLong is the error of a handshake answer whose head does
// not fit in leanBufSize bytes.
var errLeanAnswerTooLong = errors.New("handshake: answer too long")

// The checks below are shared by leanHandshake and the Linux opener of
// many connections (drv_lean_linux.go), so that both accept exactly the
// same answers.

// leanHeadEnd returns where the head of the HTTP answer in b ends (the
// index of its blank line's "\r\n\r\n"), or -1 while b holds only part
// of it.
func leanHeadEnd(b []byte) int { return bytes.Index(b, []byte("\r\n\r\n")) }

// checkLeanHead checks the head of a handshake's answer: a 101 carrying
// the accept key of leanHandshakeKey.
func checkLeanHead(head []byte) error {
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) || !bytes.Contains(head, []byte(leanAccept)) {
		return fmt.Errorf("handshake: answer %.200q", head)
	}
	return nil
}

// leanFrameComplete reports whether b holds the whole of the short frame
// it begins with: the answer to whoami is a short unmasked text frame, 2
// header bytes then the ID. (A length field of 126 or 127 waits for 128 or
// 129 bytes, which checkLeanWhoami then refuses.)
func leanFrameComplete(b []byte) bool {
	return len(b) >= 2 && len(b) >= 2+int(b[1]&0x7f)
}

// checkLeanWhoami checks the answer to whoami, a complete frame at the
// start of b (see leanFrameComplete): a text frame holding a connection
// ID, not a JSON error.
func checkLeanWhoami(b []byte) error {
	if b[0] != 0x81 || b[1]&0x7f > 125 {
		return fmt.Errorf("whoami: answer %.100q", b)
	}
	id := b[2 : 2+int(b[1]&0x7f)]
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
