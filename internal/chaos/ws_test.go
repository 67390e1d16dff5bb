package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frameTimeout bounds a wait for a frame that must arrive.
const frameTimeout = 5 * time.Second

// frame is what a wsClient read: a message, or the error that ended the
// connection (the last frame).
type frame struct {
	data []byte
	err  error
	at   time.Time
}

// wsClient is a test-side WebSocket connection, independent of the
// server's code: a reader goroutine pumps what arrives into frames.
type wsClient struct {
	name   string
	ws     *websocket.Conn
	frames chan frame
	quit   chan struct{}
	ended  chan struct{} // closed when the reader has returned

	writeMu   sync.Mutex
	closeOnce sync.Once
	id        string // set by whoami
}

// dial connects to url with key, and closes the connection when the test
// ends.
func dial(t testing.TB, url, key, name string) *wsClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"X-Api-Key": {key}})
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, url, err)
	}
	c := &wsClient{name: name, ws: ws, frames: make(chan frame, 1<<14), quit: make(chan struct{}), ended: make(chan struct{})}
	go c.read()
	t.Cleanup(c.close)
	return c
}

func (c *wsClient) read() {
	defer close(c.ended)
	for {
		_, data, err := c.ws.ReadMessage()
		select {
		case c.frames <- frame{data: data, err: err, at: time.Now()}:
		case <-c.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// close closes the connection without a closing handshake and waits for
// the reader.
func (c *wsClient) close() {
	c.closeOnce.Do(func() {
		close(c.quit)
		c.ws.Close()
		<-c.ended
	})
}

// send writes a text frame.
func (c *wsClient) send(text string) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(frameTimeout))
	return c.ws.WriteMessage(websocket.TextMessage, []byte(text))
}

func (c *wsClient) mustSend(t testing.TB, text string) {
	t.Helper()
	if err := c.send(text); err != nil {
		t.Fatalf("%s: send %s: %v", c.name, text, err)
	}
}

// next returns the next frame, or false after timeout.
func (c *wsClient) next(timeout time.Duration) (frame, bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case f := <-c.frames:
		return f, true
	case <-timer.C:
		return frame{}, false
	}
}

// mustNext returns the next message, and fails the test when none arrives
// within frameTimeout or the connection ended.
func (c *wsClient) mustNext(t testing.TB) []byte {
	t.Helper()
	f, ok := c.next(frameTimeout)
	switch {
	case !ok:
		t.Fatalf("%s: nothing arrived within %v", c.name, frameTimeout)
	case f.err != nil:
		t.Fatalf("%s: connection ended: %v", c.name, f.err)
	}
	return f.data
}

// whoami learns the connection's ID. Nothing else may be pending.
func (c *wsClient) whoami(t testing.TB) string {
	t.Helper()
	c.mustSend(t, "whoami")
	c.id = string(c.mustNext(t))
	return c.id
}

// roundTrip sends text and then whoami, and returns what arrived before the
// ID: the server answers one connection's frames in order, so these are
// the answers to text (an error frame, or nothing when a message was
// delivered) and anything else sent to the connection meanwhile. It fails
// when the ID does not come back within timeout.
func (c *wsClient) roundTrip(t testing.TB, text string, timeout time.Duration) [][]byte {
	t.Helper()
	c.mustSend(t, text)
	c.mustSend(t, "whoami")
	deadline := time.Now().Add(timeout)
	var before [][]byte
	for {
		f, ok := c.next(time.Until(deadline))
		switch {
		case !ok:
			t.Fatalf("%s: no answer to %s within %v", c.name, text, timeout)
		case f.err != nil:
			t.Fatalf("%s: connection ended: %v", c.name, f.err)
		case string(f.data) == c.id:
			return before
		}
		before = append(before, f.data)
	}
}

// expectClose waits for the connection to end and returns the close code
// the server sent (-1 for an end without a close frame) and when.
func (c *wsClient) expectClose(t testing.TB, timeout time.Duration) (int, time.Time) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, ok := c.next(time.Until(deadline))
		if !ok {
			t.Fatalf("%s: still open after %v", c.name, timeout)
		}
		if f.err == nil {
			continue
		}
		if ce, ok := errors.AsType[*websocket.CloseError](f.err); ok {
			return ce.Code, f.at
		}
		return -1, f.at
	}
}

// serverFrame is any frame the server sends, decoded as far as the tests
// need.
type serverFrame struct {
	To      string          `json:"to"`
	From    string          `json:"from"`
	Channel string          `json:"channel"`
	Action  string          `json:"action"`
	Payload json.RawMessage `json:"payload"`
	ID      json.RawMessage `json:"id"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseFrame(data []byte) (serverFrame, error) {
	var f serverFrame
	if err := json.Unmarshal(data, &f); err != nil {
		return f, fmt.Errorf("frame %q: %w", data, err)
	}
	return f, nil
}

// errorCode returns the code of an error frame, or "".
func errorCode(data []byte) string {
	f, err := parseFrame(data)
	if err != nil || f.Error == nil {
		return ""
	}
	return f.Error.Code
}
