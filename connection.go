package monologue

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/rawsock"
	"github.com/monologue-go/monologue/internal/wsframe"
	"github.com/monologue-go/monologue/wire"
)

const (
	readBufferSize = 32 << 10
	// readChunk bounds how much of a frame's declared length is allocated
	// before the bytes arrive.
	readChunk = 64 << 10
	// closeWait bounds each step of the closing handshake.
	closeWait = time.Second
)

// connection is one WebSocket connection: a reader goroutine that owns it
// and dispatches what it reads, and the writer goroutine it starts.
type connection struct {
	client  *Client
	netConn net.Conn
	reader  *bufio.Reader
	writer  *writer
	id      string // the connection ID; set by dial before anyone else sees it

	identified bool        // reader only: the answer to whoami has arrived
	lastPeer   string      // reader only: the last peer ID decoded, reused
	first      chan string // the answer to whoami, 1-buffered
	done       chan struct{}
	err        error // why the connection ended; read after done is closed

	closing   atomic.Bool // we started the closing handshake
	inOnError atomic.Bool // the reader is in Options.OnError, which may call Close
	closeOnce sync.Once
}

// dial opens a connection and learns its ID: it sends "whoami" and takes the
// first frame received as the answer.
func (c *Client) dial(ctx context.Context) (*connection, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.handshakeTimeout())
		defer cancel()
	}
	op := "dial " + c.opts.Endpoint
	netConn, buffered, _, err := c.dialer.Dial(ctx, c.opts.Endpoint)
	if err != nil {
		var status ws.StatusError
		if errors.As(err, &status) {
			if int(status) == http.StatusForbidden {
				err = wire.NewError(wire.CodeForbidden, "handshake refused with HTTP 403: wrong or missing API key")
			} else {
				err = fmt.Errorf("handshake refused with HTTP %d %s", int(status), http.StatusText(int(status)))
			}
		}
		return nil, wrap(op, err)
	}
	var source io.Reader = netConn
	raw := rawsock.For(netConn)
	if raw != nil {
		source = rawReader{raw}
	}
	if buffered != nil {
		source = io.MultiReader(buffered, source)
	}
	cn := &connection{
		client:  c,
		netConn: netConn,
		reader:  bufio.NewReaderSize(source, readBufferSize),
		writer:  newWriter(netConn, raw, c.opts.KeepAlive),
		first:   make(chan string, 1),
		done:    make(chan struct{}),
	}
	go cn.run()
	if err := cn.writer.write(ctx, ws.OpText, []byte(wire.Whoami)); err != nil {
		cn.abort()
		return nil, wrap(op, err)
	}
	select {
	case cn.id = <-cn.first:
		if cn.id == "" || strings.ContainsAny(cn.id, "{\" \n") {
			cn.abort()
			return nil, wrap(op, fmt.Errorf("unexpected answer to whoami: %.200q", cn.id))
		}
		return cn, nil
	case <-cn.done:
		return nil, wrap(op, fmt.Errorf("connection ended before the gateway told its ID: %w", cn.err))
	case <-ctx.Done():
		cn.abort()
		return nil, wrap(op, fmt.Errorf("waiting for the connection ID: %w", ctx.Err()))
	}
}

// run reads until the connection ends, then stops the writer and closes the
// socket. It closes done last.
func (cn *connection) run() {
	go cn.writer.run()
	err := cn.readLoop()
	if cn.closing.Load() {
		err = ErrClosed
	}
	cn.writer.fail(err)
	_ = cn.netConn.Close()
	<-cn.writer.done
	cn.err = err
	close(cn.done)
}

// close performs the closing handshake (close frame 1000, then the
// gateway's reply) within a bounded time, and waits for the goroutines.
func (cn *connection) close() {
	cn.closeOnce.Do(func() {
		cn.closing.Store(true)
		cn.writer.close(ws.StatusNormalClosure, ErrClosed)
		timer := time.NewTimer(closeWait)
		defer timer.Stop()
		select {
		case <-cn.done:
		case <-timer.C:
		}
		_ = cn.netConn.Close()
		<-cn.done
	})
}

// abort closes the socket at once and waits for the goroutines.
func (cn *connection) abort() {
	cn.closeOnce.Do(func() {
		cn.closing.Store(true)
		_ = cn.netConn.Close()
		<-cn.done
	})
}

// rawReader reads a plain TCP socket through rawsock.
type rawReader struct{ raw syscall.RawConn }

func (r rawReader) Read(p []byte) (int, error) { return rawsock.Read(r.raw, p) }

// closeError is the gateway closing the connection.
type closeError struct {
	code   ws.StatusCode
	reason string
}

func (e *closeError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("the gateway closed the connection (%d)", int(e.code))
	}
	return fmt.Sprintf("the gateway closed the connection (%d %s)", int(e.code), e.reason)
}

// protocolError closes the connection with code and returns err.
func (cn *connection) protocolError(code ws.StatusCode, err error) error {
	cn.writer.close(code, err)
	cn.waitWriter()
	return err
}

func (cn *connection) waitWriter() {
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-cn.writer.done:
	case <-timer.C:
	}
}

// readLoop reads messages and hands each text message to the client. Control
// frames are answered here.
func (cn *connection) readLoop() error {
	var (
		message    []byte
		messageOp  ws.OpCode
		fragmented bool
		control    [ws.MaxControlFramePayloadSize]byte
		limit      = int64(cn.client.opts.MaxReceiveSize)
	)
	for {
		h, err := wsframe.ReadHeader(cn.reader)
		if err != nil {
			return err
		}
		if h.Rsv != 0 {
			return cn.protocolError(ws.StatusProtocolError, errors.New("frame with reserved bits set"))
		}
		if h.OpCode.IsControl() {
			if h.Length > ws.MaxControlFramePayloadSize || !h.Fin {
				return cn.protocolError(ws.StatusProtocolError, errors.New("malformed control frame"))
			}
			payload := control[:h.Length]
			if _, err := io.ReadFull(cn.reader, payload); err != nil {
				return err
			}
			if h.Masked {
				ws.Cipher(payload, h.Mask, 0)
			}
			switch h.OpCode {
			case ws.OpPing:
				cn.writer.control(ws.OpPong, payload)
			case ws.OpClose:
				code, reason := ws.ParseCloseFrameData(payload)
				if cn.closing.Load() {
					return ErrClosed
				}
				if code.Empty() {
					code = ws.StatusNoStatusRcvd
				}
				err := &closeError{code: code, reason: reason}
				reply := code
				if reply == ws.StatusNoStatusRcvd {
					reply = ws.StatusNormalClosure
				}
				cn.writer.close(reply, err)
				cn.waitWriter()
				return err
			}
			continue
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if fragmented {
				return cn.protocolError(ws.StatusProtocolError, errors.New("new message inside a fragmented one"))
			}
			message, messageOp = message[:0], h.OpCode
		case ws.OpContinuation:
			if !fragmented {
				return cn.protocolError(ws.StatusProtocolError, errors.New("continuation frame with nothing to continue"))
			}
		default:
			return cn.protocolError(ws.StatusProtocolError, fmt.Errorf("reserved opcode %d", h.OpCode))
		}
		if int64(len(message))+h.Length > limit {
			return cn.protocolError(ws.StatusMessageTooBig,
				fmt.Errorf("incoming message over Options.MaxReceiveSize (%d bytes)", limit))
		}
		if message, err = wsframe.ReadPayload(cn.reader, message, h, readChunk); err != nil {
			return err
		}
		fragmented = !h.Fin
		if fragmented {
			continue
		}
		if messageOp == ws.OpText {
			cn.client.dispatch(cn, message)
		} else {
			cn.client.log.Debug("monologue: ignored a binary message", "bytes", len(message))
		}
		if cap(message) > maxSpareBuffer {
			message = nil
		}
	}
}

// peerID decodes the "from" of a frame, reusing the previous string when the
// peer is the same (reader goroutine only).
func (cn *connection) peerID(from []byte) string {
	if len(from) >= 2 && string(from[1:len(from)-1]) == cn.lastPeer && plainString(from) {
		return cn.lastPeer
	}
	cn.lastPeer = jsonString(from)
	return cn.lastPeer
}
