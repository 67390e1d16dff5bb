package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// frameTimeout bounds every wait for a frame that must arrive.
const frameTimeout = 5 * time.Second

// userAgent is the User-Agent of every test connection, so the management
// API's identity can be checked.
const userAgent = "monologue-e2e/1"

// idPattern is the shape of an API Gateway connection ID: base64 (standard
// or URL alphabet), optionally padded.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9+/_-]+=*$`)

// frame is one thing read from a connection: a message, or the read error
// that ended the connection (err != nil, usually a *websocket.CloseError).
type frame struct {
	binary bool
	data   []byte
	err    error
}

func (f frame) String() string {
	switch {
	case f.err != nil:
		return fmt.Sprintf("<connection ended: %v>", f.err)
	case f.binary:
		return fmt.Sprintf("<binary %q>", f.data)
	}
	return show(string(f.data))
}

// show abbreviates a long frame for a failure message, keeping its ends and
// saying how long it is.
func show(s string) string {
	const keep = 120
	if len(s) <= 2*keep+40 {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes in all)…%s", s[:keep], len(s), s[len(s)-keep:])
}

// conn is a test-side WebSocket client, independent of the server's code.
// A reader goroutine pumps frames into a channel, so a wait can time out
// without breaking the connection.
type conn struct {
	ws     *websocket.Conn
	frames chan frame
	quit   chan struct{}
	done   chan struct{}
	id     string // cached by whoami
	name   string // for messages: "a", "b", …
	node   int    // index of the node it was dialled on
	url    string // the URL it was dialled at
}

// dialOptions tweak dial; the zero value dials the node's URL with the API
// key header.
type dialOptions struct {
	path        string      // appended to the node's URL: "latest", "?apiKey=…"
	header      http.Header // default (in dialWith): x-api-key and User-Agent
	writeBuffer int         // client write buffer: messages larger are fragmented
}

// dial connects to the next node in turn (see placement) with the API key
// and fails the test on error.
func (e *env) dial(t testing.TB) *conn {
	t.Helper()
	return e.dialWith(t, dialOptions{})
}

// dialWith is dial with options.
func (e *env) dialWith(t testing.TB, opts dialOptions) *conn {
	t.Helper()
	if opts.header == nil {
		opts.header = http.Header{"X-Api-Key": {e.APIKey}}
	}
	c, resp, err := e.tryDial(t, opts)
	if err != nil {
		status := "no response"
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("%v (%s)", err, status)
	}
	return c
}

// tryDial dials the next node in turn (see placement), at the node's URL
// followed by opts.path, with opts.header as it is (nil: no header but
// User-Agent). It returns the handshake response on failure, and an error
// that names the URL; the connection, when there is one, is closed at the
// end of the test.
func (e *env) tryDial(t testing.TB, opts dialOptions) (*conn, *http.Response, error) {
	t.Helper()
	node := e.dialNode()
	url := e.Nodes[node].URL + opts.path
	header := opts.header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", userAgent)
	}
	d := websocket.Dialer{HandshakeTimeout: frameTimeout, WriteBufferSize: opts.writeBuffer}
	ws, resp, err := d.Dial(url, header)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, resp, fmt.Errorf("dial %s: %w", url, err)
	}
	c := &conn{
		ws:     ws,
		frames: make(chan frame),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		node:   node,
		url:    url,
	}
	go c.readLoop()
	t.Cleanup(c.shutdown)
	return c, resp, nil
}

func (c *conn) readLoop() {
	defer close(c.done)
	for {
		typ, data, err := c.ws.ReadMessage()
		f := frame{binary: typ == websocket.BinaryMessage, data: data, err: err}
		select {
		case c.frames <- f:
		case <-c.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// shutdown drops the TCP connection and waits for the reader to exit.
func (c *conn) shutdown() {
	select {
	case <-c.quit:
		return
	default:
	}
	close(c.quit)
	_ = c.ws.Close()
	<-c.done
}

// close closes the connection cleanly (close frame, then TCP): it waits
// briefly for the server's close frame, then drops the connection and waits
// for the reader to exit.
func (c *conn) close() {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for done := false; !done; {
		select {
		case f := <-c.frames:
			done = f.err != nil
		case <-c.done:
			done = true
		case <-timer.C:
			done = true
		}
	}
	c.shutdown()
}

func (c *conn) label() string {
	if c.name != "" {
		return "conn " + c.name
	}
	return "conn"
}

// send writes a text frame.
func (c *conn) send(t testing.TB, text string) {
	t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatalf("%s: send %s: %v", c.label(), show(text), err)
	}
}

// sendBinary writes a binary frame.
func (c *conn) sendBinary(t testing.TB, data []byte) {
	t.Helper()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, data); err != nil {
		t.Fatalf("%s: send binary: %v", c.label(), err)
	}
}

// next waits up to timeout for the next frame; ok is false on timeout.
func (c *conn) next(timeout time.Duration) (f frame, ok bool) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case f, ok = <-c.frames:
		if !ok {
			return frame{err: errors.New("reader stopped")}, true
		}
		return f, true
	case <-c.done:
		return frame{err: errors.New("connection already ended")}, true
	case <-timer.C:
		return frame{}, false
	}
}

// read returns the next text frame; context says what was sent, for the
// failure message.
func (c *conn) read(t testing.TB, context string) string {
	t.Helper()
	f, ok := c.next(frameTimeout)
	if !ok {
		t.Fatalf("%s: no frame within %v\n  sent: %s", c.label(), frameTimeout, show(context))
	}
	if f.err != nil || f.binary {
		t.Fatalf("%s: want a text frame\n  sent: %s\n   got: %s", c.label(), show(context), f)
	}
	return string(f.data)
}

// expect sends req and checks that the next frame is exactly want.
func (c *conn) expect(t testing.TB, req, want string) {
	t.Helper()
	c.send(t, req)
	c.expectFrame(t, req, want)
}

// expectFrame checks that the next frame is exactly want.
func (c *conn) expectFrame(t testing.TB, sent, want string) {
	t.Helper()
	if sent == "" {
		sent = "(nothing on this connection)"
	}
	got := c.read(t, sent)
	if got != want {
		t.Fatalf("%s: wrong frame\n  sent: %s\n  want: %s\n   got: %s", c.label(), show(sent), show(want), show(got))
	}
}

// whoami asks the connection's ID, checks its shape, and caches it.
func (c *conn) whoami(t testing.TB) string {
	t.Helper()
	c.send(t, "whoami")
	id := c.read(t, "whoami")
	if len(id) < 12 || !idPattern.MatchString(id) {
		t.Fatalf("%s: whoami: %q is not an API Gateway-like ID (base64, at least 12 characters)", c.label(), id)
	}
	if c.id != "" && id != c.id {
		t.Fatalf("%s: whoami: ID changed from %q to %q", c.label(), c.id, id)
	}
	c.id = id
	return id
}

// ID returns the connection's ID, asking for it the first time.
func (c *conn) ID(t testing.TB) string {
	t.Helper()
	if c.id == "" {
		return c.whoami(t)
	}
	return c.id
}

// expectNothingPending checks that no frame is waiting: it sends whoami and
// the next frame must be the ID, since the server answers a connection's
// frames in order. After a request on another connection B that should not
// have reached this one, first sync B (B.expectNothingPending or a reply on B),
// so that any wrong delivery is already queued here.
func (c *conn) expectNothingPending(t testing.TB, why string) {
	t.Helper()
	id := c.ID(t)
	c.send(t, "whoami")
	f, ok := c.next(frameTimeout)
	if !ok {
		t.Fatalf("%s: no answer to whoami within %v (checking that %s)", c.label(), frameTimeout, why)
	}
	if f.err != nil || f.binary || string(f.data) != id {
		t.Fatalf("%s: unexpected frame (checking that %s)\n  sent: whoami\n  want: %s\n   got: %s", c.label(), why, id, f)
	}
}

// expectNoFrame checks that nothing arrives for d. Use sparingly: prefer
// expectNothingPending.
func (c *conn) expectNoFrame(t testing.TB, d time.Duration, why string) {
	t.Helper()
	if f, ok := c.next(d); ok {
		t.Fatalf("%s: want no frame for %v (%s), got: %s", c.label(), d, why, f)
	}
}

// expectClose waits for the server to close the connection and checks the
// close code; code < 0 accepts any close frame. Data frames still queued
// before the close are skipped. It returns when the close arrived.
func (c *conn) expectClose(t testing.TB, code int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, ok := c.next(time.Until(deadline))
		if !ok {
			t.Fatalf("%s: not closed within %v (want close %d)", c.label(), timeout, code)
		}
		if f.err == nil {
			continue
		}
		at := time.Now()
		var ce *websocket.CloseError
		if !errors.As(f.err, &ce) {
			t.Fatalf("%s: connection ended without a close frame (want close %d): %v", c.label(), code, f.err)
		}
		if code >= 0 && ce.Code != code {
			t.Fatalf("%s: closed with %d %q, want %d", c.label(), ce.Code, ce.Text, code)
		}
		return at
	}
}

// errorWant describes an expected error frame. id is the raw JSON to be
// echoed ("" for none), to the expected "to" ("" for none).
type errorWant struct {
	code  string
	id    string
	to    string
	anyTo bool // accept any "to", or none (where the protocol leaves it open)
}

// expectError sends req and checks that the next frame is an error frame as
// described.
func (c *conn) expectError(t testing.TB, req string, want errorWant) {
	t.Helper()
	c.send(t, req)
	c.expectErrorFrame(t, req, want)
}

func (c *conn) expectErrorFrame(t testing.TB, sent string, want errorWant) {
	t.Helper()
	got := c.read(t, sent)
	if problem := checkError(got, want); problem != "" {
		t.Fatalf("%s: %s\n  sent: %s\n  want: %s\n   got: %s", c.label(), problem, show(sent), want, show(got))
	}
}

func (w errorWant) String() string {
	s := `{"error":{"code":"` + w.code + `","message":…}`
	if w.id != "" {
		s += `,"id":` + w.id
	}
	if w.anyTo {
		s += `,"to":(optional)`
	} else if w.to != "" {
		s += `,"to":"` + w.to + `"`
	}
	return s + "}"
}

// checkError checks an error frame by parsing it, since only its code, id
// and to are fixed; it returns what is wrong, or "".
func checkError(got string, want errorWant) string {
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(got), &top); err != nil {
		return "error frame is not a JSON object"
	}
	for k := range top {
		if k != "error" && k != "id" && k != "to" {
			return fmt.Sprintf("error frame has unexpected field %q", k)
		}
	}
	var body struct {
		Code    *string `json:"code"`
		Message *string `json:"message"`
	}
	if err := json.Unmarshal(top["error"], &body); err != nil || body.Code == nil {
		return `not an error frame ("error" is not an object with a code)`
	}
	if *body.Code != want.code {
		return fmt.Sprintf("error code is %q, want %q", *body.Code, want.code)
	}
	if body.Message == nil || *body.Message == "" {
		return "error.message is missing or empty"
	}
	if id, ok := top["id"]; want.id == "" && ok {
		return fmt.Sprintf("error frame echoes id %s, but none was sent", id)
	} else if want.id != "" && string(id) != want.id {
		if !ok {
			return "error frame does not echo the id"
		}
		return fmt.Sprintf("error frame echoes id %s, want %s", id, want.id)
	}
	var to string
	if raw, ok := top["to"]; ok {
		if err := json.Unmarshal(raw, &to); err != nil || to == "" {
			return fmt.Sprintf(`"to" is %s, want a non-empty string`, raw)
		}
	}
	if to != want.to && !want.anyTo {
		if want.to == "" {
			return fmt.Sprintf("error frame has \"to\":%q, want none", to)
		}
		return fmt.Sprintf("error frame has \"to\":%q, want %q", to, want.to)
	}
	return ""
}

// isError reports whether a frame is an error frame with the given code.
func isError(data []byte, code string) bool {
	var f struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	return json.Unmarshal(data, &f) == nil && f.Error != nil && f.Error.Code == code
}

// q returns s as a JSON string literal (for IDs and channel names, which
// need no escaping beyond what encoding/json does).
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// pad returns a JSON string literal of exactly n bytes (n >= 2).
func pad(n int) string {
	return `"` + strings.Repeat("x", n-2) + `"`
}

// unique returns names that no other subtest uses on a shared server.
func unique(t testing.TB, what string) string {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	return name + "." + what
}
