package e2e

import (
	"strconv"
	"testing"
	"time"
)

var messagingTests = []test{
	{"whoami", testWhoami},
	{"ids_unique", testIDsUnique},
	{"nothing_unprompted", testNothingUnprompted},
	{"loopback", testLoopback},
	{"loopback_no_payload", testLoopbackNoPayload},
	{"sendmessage", testSendMessage},
	{"default_route", testDefaultRoute},
	{"from_not_spoofable", testFromNotSpoofable},
	{"payload_bytes_unchanged", testPayloadBytesUnchanged},
	{"send", testSend},
}

// payloads are JSON values of every kind, written so that re-encoding them
// (decode and encode again) would change their bytes.
var payloads = []struct{ name, json string }{
	{"object", `{"b":1,"a":2}`},
	{"empty_object", `{}`},
	{"array", `[1,"two",3.0,null]`},
	{"empty_array", `[]`},
	{"string", `"hello"`},
	{"empty_string", `""`},
	{"integer", `42`},
	{"negative_float", `-0.50`},
	{"exponent", `1E+2`},
	{"big_integer", `12345678901234567890123`},
	{"beyond_float64", `1e400`},
	{"true", `true`},
	{"false", `false`},
	{"null", `null`},
	{"nested", `{"a":[{"b":{"c":[[],{}]}}],"d":{"e":null}}`},
	{"unicode", `"héllo wörld ✓ 🌍 日本"`},
	{"escapes", `"quote \" backslash \\ slash \/ tab \t nl \n u \u00e9 \ud83c\udf0d"`},
	{"whitespace_inside", `{ "z" : [ 1 , 2 ] ,` + "\t" + `"a" :{ } }`},
	{"newline_inside", "[1,\n2,\r\n3]"},
	{"duplicate_keys", `{"a":1,"a":2}`},
	{"key_order", `{"zebra":1,"apple":2,"mango":3}`},
}

func testWhoami(t *testing.T, e *env) {
	c := e.dial(t)
	id := c.whoami(t)
	if again := c.whoami(t); again != id {
		t.Fatalf("second whoami: %q, first: %q", again, id)
	}
}

func testIDsUnique(t *testing.T, e *env) {
	seen := make(map[string]bool)
	for i := range 100 {
		c := e.dial(t)
		id := c.whoami(t)
		if seen[id] {
			t.Fatalf("connection %d got ID %q, already issued to an earlier connection", i, id)
		}
		seen[id] = true
		c.close()
	}
}

func testNothingUnprompted(t *testing.T, e *env) {
	c := e.dial(t)
	c.expectNoFrame(t, 150*time.Millisecond, "the server sends nothing unprompted after the handshake")
	c.send(t, "whoami")
	id := c.read(t, "whoami (the first request, 150 ms after connecting)")
	if len(id) < 12 || !idPattern.MatchString(id) {
		t.Fatalf("first frame after connecting is %q; want the answer to the first request (whoami), an ID", id)
	}
}

func testLoopback(t *testing.T, e *env) {
	c := e.dial(t)
	me := q(c.ID(t))
	for _, p := range payloads {
		ok := t.Run(p.name, func(t *testing.T) {
			c.expect(t, `{"action":"loopback","payload":`+p.json+`}`,
				`{"to":`+me+`,"from":`+me+`,"payload":`+p.json+`}`)
		})
		if !ok {
			c = e.dial(t) // the old one may have frames pending
			me = q(c.ID(t))
		}
	}
	t.Run("payload_first", func(t *testing.T) {
		c.expect(t, `{"payload":[1,2],"action":"loopback"}`, `{"to":`+me+`,"from":`+me+`,"payload":[1,2]}`)
	})
	t.Run("whitespace_around_fields", func(t *testing.T) {
		c.expect(t, " {\n\t\"action\" : \"loopback\" ,\r\n \"payload\" : {\"k\":true} } ",
			`{"to":`+me+`,"from":`+me+`,"payload":{"k":true}}`)
	})
}

func testLoopbackNoPayload(t *testing.T, e *env) {
	c := e.dial(t)
	me := q(c.ID(t))
	c.expect(t, `{"action":"loopback"}`, `{"to":`+me+`,"from":`+me+`}`)
}

// pair dials two connections named a and b and learns their IDs.
func pair(t *testing.T, e *env) (a, b *conn) {
	a, b = e.dial(t), e.dial(t)
	a.name, b.name = "a", "b"
	a.ID(t)
	b.ID(t)
	return a, b
}

func testSendMessage(t *testing.T, e *env) {
	a, b := pair(t, e)
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			req := `{"action":"sendmessage","to":` + q(b.id) + `,"payload":` + p.json + `}`
			a.send(t, req)
			b.expectFrame(t, "a: "+req, `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":`+p.json+`}`)
		})
	}
	t.Run("no_payload", func(t *testing.T) {
		req := `{"action":"sendmessage","to":` + q(b.id) + `}`
		a.send(t, req)
		b.expectFrame(t, "a: "+req, `{"to":`+q(b.id)+`,"from":`+q(a.id)+`}`)
	})
	t.Run("both_ways", func(t *testing.T) {
		req := `{"action":"sendmessage","to":` + q(a.id) + `,"payload":"back"}`
		b.send(t, req)
		a.expectFrame(t, "b: "+req, `{"to":`+q(a.id)+`,"from":`+q(b.id)+`,"payload":"back"}`)
	})
	t.Run("no_reply_to_sender", func(t *testing.T) {
		a.send(t, `{"action":"sendmessage","to":`+q(b.id)+`,"payload":1}`)
		a.expectNothingPending(t, "sendmessage has no reply")
		b.expectFrame(t, "a: sendmessage", `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":1}`)
	})
	t.Run("in_order", func(t *testing.T) {
		for i := range 20 {
			a.send(t, `{"action":"sendmessage","to":`+q(b.id)+`,"payload":`+strconv.Itoa(i)+`}`)
		}
		for i := range 20 {
			b.expectFrame(t, "a: 20 sendmessages, payloads 0…19", `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":`+strconv.Itoa(i)+`}`)
		}
	})
}

func testDefaultRoute(t *testing.T, e *env) {
	a, b := pair(t, e)
	for _, p := range payloads[:6] {
		t.Run(p.name, func(t *testing.T) {
			req := `{"to":` + q(b.id) + `,"payload":` + p.json + `}`
			a.send(t, req)
			b.expectFrame(t, "a: "+req, `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":`+p.json+`}`)
		})
	}
	t.Run("no_reply_to_sender", func(t *testing.T) {
		a.send(t, `{"to":`+q(b.id)+`,"payload":null}`)
		a.expectNothingPending(t, "$default has no reply")
		b.expectFrame(t, "a: $default", `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":null}`)
	})
	t.Run("to_self", func(t *testing.T) {
		a.expect(t, `{"to":`+q(a.id)+`,"payload":"me"}`, `{"to":`+q(a.id)+`,"from":`+q(a.id)+`,"payload":"me"}`)
	})
}

func testFromNotSpoofable(t *testing.T, e *env) {
	a, b := pair(t, e)
	want := `{"to":` + q(b.id) + `,"from":` + q(a.id) + `,"payload":"x"}`
	for _, req := range []string{
		`{"action":"sendmessage","from":` + q(b.id) + `,"to":` + q(b.id) + `,"payload":"x"}`,
		`{"action":"sendmessage","to":` + q(b.id) + `,"payload":"x","from":"spoofed"}`,
		`{"from":"spoofed","to":` + q(b.id) + `,"payload":"x"}`,
	} {
		a.send(t, req)
		b.expectFrame(t, "a: "+req, want)
	}
	me := q(a.id)
	a.expect(t, `{"action":"loopback","from":"spoofed","payload":"x"}`, `{"to":`+me+`,"from":`+me+`,"payload":"x"}`)
	// In a publish, too.
	ch := q(unique(t, "ch"))
	b.expect(t, `{"action":"subscribe","channel":`+ch+`}`, `{"action":"subscribed","channel":`+ch+`}`)
	req := `{"action":"publish","channel":` + ch + `,"from":"spoofed","payload":"x"}`
	a.send(t, req)
	b.expectFrame(t, "a: "+req, `{"channel":`+ch+`,"from":`+q(a.id)+`,"payload":"x"}`)
}

func testPayloadBytesUnchanged(t *testing.T, e *env) {
	a, b := pair(t, e)
	// Each of these changes if the relay decodes and encodes the payload.
	p := `{"big":12345678901234567890123,"e":"\u00e9","f":1.10,"k":{"z":1,"a":2},"s":"<&>"}`
	req := `{"action":"sendmessage","to":` + q(b.id) + `,"payload":` + p + `}`
	a.send(t, req)
	b.expectFrame(t, "a: "+req, `{"to":`+q(b.id)+`,"from":`+q(a.id)+`,"payload":`+p+`}`)
}

func testSend(t *testing.T, e *env) {
	c := e.dial(t)
	c.expect(t, `{"action":"send","message":"hi"}`, `{"message":"hi"}`)
	c.expect(t, `{"action":"send","message":"\u00e9 \"q\""}`, `{"message":"\u00e9 \"q\""}`)
	c.expect(t, `{"action":"send","message":{"b":[1, 2],"a":null}}`, `{"message":{"b":[1, 2],"a":null}}`)
	c.expect(t, `{"action":"send","message":7}`, `{"message":7}`)
	c.expect(t, `{"action":"send"}`, `{"message":"🏓 pong"}`)
	c.expect(t, `{"action":"send","payload":"ignored"}`, `{"message":"🏓 pong"}`)
}
