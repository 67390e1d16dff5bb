package gateway_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// rawConn is a hand-rolled client for frames gorilla will not send.
type rawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func (s *server) dialRaw(t *testing.T) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.http, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	request := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Api-Key: " + testKey + "\r\n\r\n"
	if _, err := conn.Write([]byte(request)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	return &rawConn{t: t, conn: conn, r: r}
}

// frame builds a client frame; masked unless told otherwise.
func frame(op byte, fin, masked bool, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	maskBit := byte(0)
	if masked {
		maskBit = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n <= 0xffff:
		out = append(out, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, mask[:]...)
	for i, b := range payload {
		out = append(out, b^mask[i%4])
	}
	return out
}

func (c *rawConn) write(frames ...[]byte) {
	c.t.Helper()
	var all []byte
	for _, f := range frames {
		all = append(all, f...)
	}
	if _, err := c.conn.Write(all); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read returns the next server frame's opcode and payload.
func (c *rawConn) read() (op byte, payload []byte) {
	c.t.Helper()
	head := make([]byte, 2)
	if _, err := io.ReadFull(c.r, head); err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	if head[0]&0x80 == 0 || head[1]&0x80 != 0 {
		c.t.Fatalf("server frame header % x: want final and unmasked", head)
	}
	n := int(head[1] & 0x7f)
	switch n {
	case 126:
		ext := make([]byte, 2)
		io.ReadFull(c.r, ext)
		n = int(binary.BigEndian.Uint16(ext))
	case 127:
		ext := make([]byte, 8)
		io.ReadFull(c.r, ext)
		n = int(binary.BigEndian.Uint64(ext))
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(c.r, payload); err != nil {
		c.t.Fatalf("read payload: %v", err)
	}
	return head[0] & 0x0f, payload
}

// readClose reads frames up to a close frame and returns its status.
func (c *rawConn) readClose() int {
	c.t.Helper()
	for {
		op, payload := c.read()
		if op == 0x8 {
			if len(payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(payload))
		}
	}
}

const (
	opContinuation = 0x0
	opText         = 0x1
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

func TestRawFrames(t *testing.T) {
	s := start(t, gateway.Options{MaxMessageSize: 1024})

	t.Run("fragments with a ping between", func(t *testing.T) {
		c := s.dialRaw(t)
		c.write(
			frame(opText, false, true, []byte(`{"action":"send",`)),
			frame(opPing, true, true, []byte("p")),
			frame(opContinuation, false, true, []byte(`"message":`)),
			frame(opContinuation, true, true, []byte(`"joined"}`)),
		)
		if op, payload := c.read(); op != opPong || string(payload) != "p" {
			t.Fatalf("first frame %x %q, want the pong", op, payload)
		}
		if op, payload := c.read(); op != opText || string(payload) != `{"message":"joined"}` {
			t.Fatalf("reply %x %q", op, payload)
		}
	})

	t.Run("unmasked frame", func(t *testing.T) {
		c := s.dialRaw(t)
		c.write(frame(opText, true, false, []byte("whoami")))
		if status := c.readClose(); status != 1002 {
			t.Fatalf("close %d, want 1002", status)
		}
	})

	t.Run("continuation without a start", func(t *testing.T) {
		c := s.dialRaw(t)
		c.write(frame(opContinuation, true, true, []byte("x")))
		if status := c.readClose(); status != 1002 {
			t.Fatalf("close %d, want 1002", status)
		}
	})

	t.Run("huge declared length", func(t *testing.T) {
		c := s.dialRaw(t)
		head := []byte{0x81, 0x80 | 127}
		head = binary.BigEndian.AppendUint64(head, 1<<40)
		c.write(append(head, 1, 2, 3, 4))
		if status := c.readClose(); status != 1009 {
			t.Fatalf("close %d, want 1009", status)
		}
	})

	t.Run("client close is echoed", func(t *testing.T) {
		c := s.dialRaw(t)
		c.write(frame(opClose, true, true, binary.BigEndian.AppendUint16(nil, 4000)))
		if status := c.readClose(); status != 4000 {
			t.Fatalf("close %d, want 4000 echoed", status)
		}
		if _, err := c.r.ReadByte(); err != io.EOF {
			t.Fatalf("after the close handshake: %v, want EOF", err)
		}
	})

	t.Run("many frames in one write", func(t *testing.T) {
		c := s.dialRaw(t)
		var frames [][]byte
		for range 50 {
			frames = append(frames, frame(opText, true, true, []byte(`{"action":"send","message":1}`)))
		}
		c.write(frames...)
		for i := range 50 {
			if op, payload := c.read(); op != opText || string(payload) != `{"message":1}` {
				t.Fatalf("reply %d: %x %q", i, op, payload)
			}
		}
	})
}
