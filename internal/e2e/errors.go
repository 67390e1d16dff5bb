package e2e

import (
	"github.com/monologue-go/monologue/internal/poll"

	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

var errorTests = []test{
	{"errors_not_json", testErrorsNotJSON},
	{"errors_not_object", testErrorsNotObject},
	{"errors_with_id", testErrorsWithID},
	{"errors_binary_frame", testErrorsBinaryFrame},
	{"errors_gone_never_issued", testGoneNeverIssued},
	{"errors_gone_closed", testGoneClosed},
	{"errors_invalid_utf8", testErrorsInvalidUTF8},
}

// notJSONFrames are frames that are not JSON (nor whoami): bad_request.
var notJSONFrames = []string{
	`hello`,
	`{`,
	`{"action":"loopback"`,
	`{"action":"loopback"}}`,
	`{"action":"loopback"} x`,
	`{action:"loopback"}`,
	`{'action':'loopback'}`,
	`{"action":"loopback","payload":}`,
	`{"action":"loopback","payload":[1,]}`,
	`{"action":"loopback","payload":tru}`,
	`{"action":"loopback","payload":"unterminated}`,
	`WhoAmI`,
	`who am i`,
	``,
}

func testErrorsNotJSON(t *testing.T, e *env) {
	c := e.dial(t)
	for _, f := range notJSONFrames {
		c.expectError(t, f, errorWant{code: "bad_request"})
		c.expectNothingPending(t, "the connection still works after "+q(f))
	}
}

func testErrorsNotObject(t *testing.T, e *env) {
	c := e.dial(t)
	for _, f := range []string{`[1]`, `[]`, `42`, `-1.5`, `null`, `true`, `false`, `"str"`, `"whoami"`, ` [{"action":"loopback"}] `} {
		c.expectError(t, f, errorWant{code: "bad_request"})
		c.expectNothingPending(t, "the connection still works after "+q(f))
	}
}

// errorCase is a frame that is answered with an error, written with an ID
// placeholder so that it runs once with each form of id.
type errorCase struct {
	name  string
	frame string // "ID" is replaced with the raw JSON id
	code  string
	to    string // expected "to"; "" for none
}

func errorCases(stranger string) []errorCase {
	return []errorCase{
		{"to_number", `{"action":"sendmessage","to":5,"id":ID}`, "bad_request", ""},
		{"to_number_id_first", `{"id":ID,"action":"sendmessage","to":5}`, "bad_request", ""},
		{"default_to_array", `{"to":["x"],"payload":1,"id":ID}`, "bad_request", ""},
		{"action_true", `{"action":true,"id":ID}`, "bad_request", ""},
		{"action_true_id_first", `{"id":ID,"action":true}`, "bad_request", ""},
		{"action_object", `{"id":ID,"action":{"name":"loopback"}}`, "bad_request", ""},
		{"channel_object", `{"action":"subscribe","channel":{},"id":ID}`, "bad_request", ""},
		{"channel_object_id_first", `{"id":ID,"action":"subscribe","channel":{}}`, "bad_request", ""},
		{"publish_channel_number", `{"id":ID,"action":"publish","channel":1,"payload":1}`, "bad_request", ""},
		{"unsubscribe_channel_array", `{"id":ID,"action":"unsubscribe","channel":["a"]}`, "bad_request", ""},
		{"sendmessage_missing_to", `{"action":"sendmessage","payload":1,"id":ID}`, "bad_request", ""},
		{"default_missing_to", `{"payload":1,"id":ID}`, "bad_request", ""},
		{"default_only_id", `{"id":ID}`, "bad_request", ""},
		{"subscribe_missing_channel", `{"action":"subscribe","id":ID}`, "bad_request", ""},
		{"unsubscribe_missing_channel", `{"action":"unsubscribe","id":ID}`, "bad_request", ""},
		{"publish_missing_channel", `{"action":"publish","payload":1,"id":ID}`, "bad_request", ""},
		{"unknown_action", `{"action":"nope","id":ID}`, "unknown_action", ""},
		{"unknown_action_case", `{"action":"Loopback","payload":1,"id":ID}`, "unknown_action", ""},
		{"unknown_action_upper", `{"action":"SENDMESSAGE","to":"x","id":ID}`, "unknown_action", ""},
		{"unknown_action_whoami", `{"action":"whoami","id":ID}`, "unknown_action", ""},
		{"unknown_action_route_key", `{"action":"$default","id":ID}`, "unknown_action", ""},
		{"gone_sendmessage", `{"action":"sendmessage","to":` + q(stranger) + `,"payload":1,"id":ID}`, "gone", stranger},
		{"gone_default", `{"to":` + q(stranger) + `,"payload":1,"id":ID}`, "gone", stranger},
	}
}

// neverIssued is shaped like a connection ID but was never issued (its
// chance of colliding with a real one is 2^-88).
const neverIssued = "bm90LWlzc3VlZC4=" // base64("not-issued.")

func testErrorsWithID(t *testing.T, e *env) {
	c := e.dial(t)
	for _, id := range []string{`"req-1"`, `"é \"quoted\""`, `7`, `0`, `-12.5e3`} {
		for _, tc := range errorCases(neverIssued) {
			ok := t.Run(tc.name+"/id="+id, func(t *testing.T) {
				frame := strings.ReplaceAll(tc.frame, "ID", id)
				c.expectError(t, frame, errorWant{code: tc.code, id: id, to: tc.to})
				c.expectNothingPending(t, "the connection still works after "+frame)
			})
			if !ok {
				c = e.dial(t) // the old one may have frames pending
			}
		}
	}
	t.Run("without_id", func(t *testing.T) {
		for _, tc := range errorCases(neverIssued) {
			frame := strings.ReplaceAll(strings.ReplaceAll(tc.frame, `,"id":ID`, ""), `"id":ID,`, "")
			if strings.Contains(frame, "ID") {
				continue // {"id":ID} alone
			}
			c.expectError(t, frame, errorWant{code: tc.code, to: tc.to})
		}
		c.expectNothingPending(t, "the connection still works")
	})
}

func testErrorsBinaryFrame(t *testing.T, e *env) {
	c := e.dial(t)
	for _, data := range [][]byte{[]byte(`{"action":"loopback","payload":1}`), []byte("whoami"), {0, 1, 2, 0xff}} {
		c.sendBinary(t, data)
		c.expectErrorFrame(t, "binary frame "+q(string(data)), errorWant{code: "bad_request"})
		c.expectNothingPending(t, "the connection lives on after a binary frame")
	}
	me := q(c.ID(t))
	c.expect(t, `{"action":"loopback","payload":1}`, `{"to":`+me+`,"from":`+me+`,"payload":1}`)
}

func testGoneNeverIssued(t *testing.T, e *env) {
	c := e.dial(t)
	for _, to := range []string{neverIssued, "AAAAAAAAAAAAAAA=", "not an id", "x"} {
		c.expectError(t, `{"action":"sendmessage","to":`+q(to)+`,"payload":1}`, errorWant{code: "gone", to: to})
		c.expectError(t, `{"to":`+q(to)+`,"payload":1,"id":"g"}`, errorWant{code: "gone", id: `"g"`, to: to})
		c.expectNothingPending(t, "the connection still works after gone")
	}
}

func testGoneClosed(t *testing.T, e *env) {
	a, b := pair(t, e)
	b.close()
	// The server notices the close asynchronously: until it has, a message
	// to b is accepted silently; after, it must be gone, and stay gone.
	n := 0
	poll.Until(t, frameTimeout, func() string {
		n++
		id := strconv.Itoa(n)
		req := `{"action":"sendmessage","to":` + q(b.id) + `,"payload":1,"id":` + id + `}`
		a.send(t, req)
		a.send(t, "whoami")
		got := a.read(t, req+" then whoami")
		if got == a.id {
			return "a message to a closed connection is still accepted"
		}
		if problem := checkError(got, errorWant{code: "gone", id: id, to: b.id}); problem != "" {
			t.Fatalf("conn a: %s\n  sent: %s\n  want: gone error\n   got: %s", problem, req, got)
		}
		a.expectFrame(t, "whoami", a.id)
		return ""
	})
	a.expectError(t, `{"to":`+q(b.id)+`,"payload":2,"id":5}`, errorWant{code: "gone", id: "5", to: b.id})
	a.expectNothingPending(t, "the connection still works after gone")
}

// invalidUTF8Frames are text frames that are not valid UTF-8, in the places
// a frame carries text: raw, in a JSON string, in a key, in an id.
var invalidUTF8Frames = []string{
	"\xff",
	"whoami\xc3",
	`{"action":"loopback","payload":"` + "\xc3\x28" + `"}`,
	`{"action":"loopback","payload":{"` + "\xed\xa0\x80" + `":1}}`, // a surrogate
	`{"action":"send","message":"ok","id":"` + "\xf0\x28\x8c\x28" + `"}`,
}

// testErrorsInvalidUTF8: a text frame that is not valid UTF-8 closes the
// connection with status 1007 (RFC 6455 §8.1) rather than being answered;
// other connections live on.
func testErrorsInvalidUTF8(t *testing.T, e *env) {
	a, b := pair(t, e)
	for _, f := range invalidUTF8Frames {
		c := e.dial(t)
		c.send(t, f)
		c.expectClose(t, websocket.CloseInvalidFramePayloadData, frameTimeout)
	}
	a.send(t, `{"to":`+q(b.id)+`,"payload":"`+"\xff"+`"}`)
	a.expectClose(t, websocket.CloseInvalidFramePayloadData, frameTimeout)
	b.expectNothingPending(t, "an invalid frame is not delivered, and the receiver lives on")
}
