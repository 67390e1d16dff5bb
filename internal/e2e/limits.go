package e2e

import (
	"github.com/monologue-go/monologue/internal/poll"

	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var limitTests = []test{
	{"payload_too_large", testPayloadTooLarge},
	{"max_message_size", testMaxMessageSize},
}

// sized builds a frame around a string payload so that the frame built by
// envelope has exactly n bytes; it returns the payload.
func sized(t *testing.T, n int, envelope func(payload string) string) string {
	t.Helper()
	base := len(envelope(`""`))
	if n < base {
		t.Fatalf("cannot build a %d-byte frame: the envelope alone is %d bytes", n, base)
	}
	return pad(n - base + 2)
}

// fits fails the test (a bug in the test, not the server) when a request
// is over the limit as a client message, so that it could not test
// payload_too_large.
func fits(t *testing.T, limit int, request string) string {
	t.Helper()
	if len(request) > limit {
		t.Fatalf("test bug: the request is %d bytes, over the limit of %d", len(request), limit)
	}
	return request
}

// The envelope of a delivered frame is longer than that of the request when
// the request is short: {"to":B,"payload":P} (20 bytes + ID) becomes
// {"to":B,"from":A,"payload":P} (30 bytes + 2 IDs). A request with a long
// action and an id can be longer than what it delivers, so each case below
// picks a request form that fits.
func testPayloadTooLarge(t *testing.T, e *env) {
	limit := e.cfg.MaxMessageSize
	t.Run("loopback", func(t *testing.T) {
		a := e.dial(t)
		me := q(a.ID(t))
		reply := func(p string) string { return `{"to":` + me + `,"from":` + me + `,"payload":` + p + `}` }
		request := func(p string) string { return `{"action":"loopback","payload":` + p + `,"id":"big"}` }

		p := sized(t, limit, reply)
		a.expect(t, fits(t, limit, request(p)), reply(p)) // a delivered frame of exactly the limit

		p = sized(t, limit+1, reply)
		a.expectError(t, fits(t, limit, request(p)), errorWant{code: "payload_too_large", id: `"big"`, anyTo: true})

		p = sized(t, limit, request) // the client message fits exactly; its reply does not
		a.expectError(t, request(p), errorWant{code: "payload_too_large", id: `"big"`, anyTo: true})
		a.expectNothingPending(t, "the connection still works after payload_too_large")
	})
	t.Run("direct", func(t *testing.T) {
		a, b := pair(t, e)
		delivered := func(p string) string {
			return `{"to":` + q(b.id) + `,"from":` + q(a.id) + `,"payload":` + p + `}`
		}
		request := func(p string) string { return `{"to":` + q(b.id) + `,"payload":` + p + `,"id":9}` }

		p := sized(t, limit, delivered)
		a.send(t, fits(t, limit, request(p)))
		b.expectFrame(t, "a: message whose delivered frame is exactly the limit", delivered(p))

		p = sized(t, limit+1, delivered)
		a.expectError(t, fits(t, limit, request(p)), errorWant{code: "payload_too_large", id: "9", to: b.id})
		a.expectNothingPending(t, "the connection still works after payload_too_large")
		b.expectNothingPending(t, "a frame over the limit is not delivered")

		p = sized(t, limit, request) // the client message fits exactly; what it delivers does not
		a.expectError(t, request(p), errorWant{code: "payload_too_large", id: "9", to: b.id})

		sendmessage := func(p string) string { return `{"action":"sendmessage","to":` + q(b.id) + `,"payload":` + p + `}` }
		p = sized(t, limit+1, delivered)
		a.expectError(t, fits(t, limit, sendmessage(p)), errorWant{code: "payload_too_large", to: b.id})
		a.expectNothingPending(t, "the connection still works after payload_too_large")
		b.expectNothingPending(t, "a frame over the limit is not delivered")
	})
	t.Run("publish", func(t *testing.T) {
		a, b := pair(t, e)
		ch := "c" // short, so that the publish request is shorter than the frame it delivers
		subscribe(t, b, ch)
		delivered := func(p string) string {
			return `{"channel":` + q(ch) + `,"from":` + q(a.id) + `,"payload":` + p + `}`
		}
		request := func(p string) string {
			return `{"action":"publish","channel":` + q(ch) + `,"payload":` + p + `}`
		}

		p := sized(t, limit, delivered)
		a.send(t, fits(t, limit, request(p)))
		b.expectFrame(t, "a: publish whose delivered frame is exactly the limit", delivered(p))

		p = sized(t, limit+1, delivered)
		a.expectError(t, fits(t, limit, request(p)), errorWant{code: "payload_too_large"})
		a.expectNothingPending(t, "the connection still works after payload_too_large")
		b.expectNothingPending(t, "a frame over the limit is not delivered")
	})
}

func testMaxMessageSize(t *testing.T, e *env) {
	limit := e.cfg.MaxMessageSize
	request := func(m string) string { return `{"action":"send","message":` + m + `}` }
	m := sized(t, limit, request)
	over := sized(t, limit+1, request)
	for _, tc := range []struct {
		name        string
		writeBuffer int
	}{
		{"one_frame", 2 * limit},
		{"fragmented", limit / 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.dialWith(t, dialOptions{writeBuffer: tc.writeBuffer})
			c.expect(t, request(m), `{"message":`+m+`}`) // exactly the limit: accepted
			c.expectNothingPending(t, "the connection still works")
			c.send(t, request(over))
			c.expectClose(t, websocket.CloseMessageTooBig, frameTimeout)
		})
	}
	t.Run("others_unaffected", func(t *testing.T) {
		a, b := pair(t, e)
		a.send(t, request(over))
		a.expectClose(t, websocket.CloseMessageTooBig, frameTimeout)
		b.expectNothingPending(t, "another connection lives on")
	})
}

func testRateLimited(t *testing.T, e *env) {
	c := e.dial(t)
	me := q(c.ID(t))
	const burst = 200
	for i := range burst {
		c.send(t, `{"action":"loopback","payload":`+strconv.Itoa(i)+`,"id":`+strconv.Itoa(i)+`}`)
	}
	// Some of the burst must be refused with rate_limited; replies to the
	// others are loopbacks.
	deadline := time.Now().Add(frameTimeout)
	for {
		f, ok := c.next(time.Until(deadline))
		if !ok {
			t.Fatalf("sent %d loopbacks at once at a message rate of %v/s: no rate_limited error within %v", burst, e.cfg.MessageRate, frameTimeout)
		}
		if f.err != nil || f.binary {
			t.Fatalf("sent %d loopbacks at once at a message rate of %v/s: want rate_limited errors, got %s", burst, e.cfg.MessageRate, f)
		}
		if isError(f.data, "rate_limited") {
			var echo struct {
				ID json.RawMessage `json:"id"`
			}
			_ = json.Unmarshal(f.data, &echo)
			n, err := strconv.Atoi(string(echo.ID))
			if err != nil || n < 0 || n >= burst {
				t.Fatalf("rate_limited error does not echo the id of one of the loopbacks (0…%d): %s", burst-1, f.data)
			}
			if problem := checkError(string(f.data), errorWant{code: "rate_limited", id: string(echo.ID)}); problem != "" {
				t.Fatalf("%s: %s", problem, f.data)
			}
			break
		}
		if !strings.HasPrefix(string(f.data), `{"to":`+me+`,"from":`+me+`,"payload":`) {
			t.Fatalf("sent loopbacks: want loopback replies or rate_limited errors, got %s", f.data)
		}
	}
	// The connection stays open and works again once the rate allows.
	n := 0
	poll.Until(t, 3*time.Second, func() string {
		n++
		tag := q("after-" + strconv.Itoa(n))
		c.send(t, `{"action":"loopback","payload":`+tag+`,"id":`+tag+`}`)
		want := `{"to":` + me + `,"from":` + me + `,"payload":` + tag + `}`
		for {
			got := c.read(t, "a loopback after being rate limited")
			switch {
			case got == want:
				return ""
			case isError([]byte(got), "rate_limited") && strings.Contains(got, tag):
				time.Sleep(100 * time.Millisecond)
				return "still rate limited"
			}
			// A late reply to the burst: skip it.
		}
	})
}

func testIdleTimeout(t *testing.T, e *env) {
	c := e.dial(t)
	opened := time.Now()
	at := c.expectClose(t, websocket.CloseGoingAway, 10*e.cfg.IdleTimeout+2*time.Second)
	if idle := at.Sub(opened); idle < e.cfg.IdleTimeout/2 {
		t.Fatalf("closed after %v idle; the idle timeout is %v", idle, e.cfg.IdleTimeout)
	}
}

func testMaxConnectionAge(t *testing.T, e *env) {
	c := e.dial(t)
	opened := time.Now()
	// Keep the connection busy, so the idle timeout never fires, until the
	// server closes it for its age.
	id := c.ID(t)
	tick := e.cfg.IdleTimeout / 3
	deadline := opened.Add(10*e.cfg.MaxConnectionAge + 2*time.Second)
	for time.Now().Before(deadline) {
		_ = c.ws.WriteMessage(websocket.TextMessage, []byte("whoami"))
		f, ok := c.next(frameTimeout)
		if !ok {
			t.Fatalf("no answer to whoami within %v after %v", frameTimeout, time.Since(opened))
		}
		if f.err != nil {
			age := time.Since(opened)
			var ce *websocket.CloseError
			if !errors.As(f.err, &ce) {
				t.Fatalf("connection ended without a close frame after %v: %v", age, f.err)
			}
			if ce.Code != websocket.CloseGoingAway {
				t.Fatalf("closed after %v with %d %q, want %d", age, ce.Code, ce.Text, websocket.CloseGoingAway)
			}
			if age < e.cfg.MaxConnectionAge*3/4 {
				t.Fatalf("an active connection was closed after %v; its maximum age is %v", age, e.cfg.MaxConnectionAge)
			}
			return
		}
		if string(f.data) != id {
			t.Fatalf("sent: whoami\n  want: %s\n   got: %s", id, f)
		}
		time.Sleep(tick)
	}
	t.Fatalf("an active connection was still open after %v; its maximum age is %v", time.Since(opened), e.cfg.MaxConnectionAge)
}
