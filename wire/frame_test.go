package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Frame
		route string
	}{
		{"whoami", `whoami`, Frame{Whoami: true}, RouteDefault},
		{"loopback", `{"action":"loopback","payload":{"a":1}}`, Frame{Action: "loopback", Payload: []byte(`{"a":1}`)}, "loopback"},
		{"default", `{"to":"AB=","payload":[1, 2]}`, Frame{To: "AB=", Payload: []byte(`[1, 2]`)}, RouteDefault},
		{"spaces", " {\n \"action\" : \"send\" , \"message\" : \"hi\" }\t", Frame{Action: "send", Message: []byte(`"hi"`)}, "send"},
		{"null payload kept", `{"to":"x","payload":null}`, Frame{To: "x", Payload: []byte(`null`)}, RouteDefault},
		{"null fields absent", `{"action":null,"to":null,"channel":null,"id":null,"message":null}`, Frame{}, RouteDefault},
		{"id string", `{"action":"subscribe","channel":"c","id":"r1"}`, Frame{Action: "subscribe", Channel: "c", ID: []byte(`"r1"`)}, "subscribe"},
		{"id number", `{"action":"subscribe","channel":"c","id":-1.5e3}`, Frame{Action: "subscribe", Channel: "c", ID: []byte(`-1.5e3`)}, "subscribe"},
		{"unknown fields ignored", `{"x":[{"y":{}}],"action":"publish","channel":"c","from":"spoof"}`, Frame{Action: "publish", Channel: "c"}, "publish"},
		{"escaped key and value", `{"\u0061ction":"loop\u0062ack"}`, Frame{Action: "loopback"}, "loopback"},
		{"last duplicate wins", `{"to":"a","to":"b"}`, Frame{To: "b"}, RouteDefault},
		{"unknown action", `{"action":"Loopback"}`, Frame{Action: "Loopback"}, RouteDefault},
		{"surrogate pair", `{"to":"\ud83c\udfd3"}`, Frame{To: "🏓"}, RouteDefault},
		{"lone surrogate", `{"to":"\ud83c"}`, Frame{To: "\ufffd"}, RouteDefault},
		{"empty object", `{}`, Frame{}, RouteDefault},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !frameEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if r := got.Route(); r != tt.route {
				t.Fatalf("Route() = %q, want %q", r, tt.route)
			}
		})
	}
}

func frameEqual(a, b Frame) bool {
	return a.Whoami == b.Whoami && a.Action == b.Action && a.To == b.To && a.Channel == b.Channel &&
		bytes.Equal(a.Payload, b.Payload) && bytes.Equal(a.Message, b.Message) && bytes.Equal(a.ID, b.ID) &&
		(a.Payload == nil) == (b.Payload == nil) && (a.ID == nil) == (b.ID == nil)
}

func TestParseBadRequest(t *testing.T) {
	bad := []string{
		``, `who`, `whoami `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{"a":1}{}`,
		`[1]`, `42`, `null`, `"str"`, `true`,
		`{"to":5}`, `{"action":true}`, `{"channel":{}}`, `{"id":{}}`, `{"id":[1]}`, `{"id":true}`,
		`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"a":tru}`, `{"a":"\u12"}`,
		`{"channel":"` + string(bytes.Repeat([]byte("c"), MaxChannelLength+1)) + `"}`,
	}
	for _, in := range bad {
		_, err := Parse([]byte(in))
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("Parse(%q) err = %v, want bad_request", in, err)
		}
	}
}

func TestParseTypeErrorKeepsID(t *testing.T) {
	for _, in := range []string{`{"to":5,"id":"r1"}`, `{"id":"r1","action":true}`, `{"channel":{},"id":"r1","to":[1]}`} {
		f, err := Parse([]byte(in))
		if !errors.Is(err, ErrBadRequest) || string(f.ID) != `"r1"` {
			t.Errorf("Parse(%s) = id %s, err %v; want id \"r1\" and bad_request", in, f.ID, err)
		}
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := `{"payload":` + string(bytes.Repeat([]byte("["), maxDepth+1)) + string(bytes.Repeat([]byte("]"), maxDepth+1)) + `}`
	if _, err := Parse([]byte(deep)); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("too deep: err = %v, want bad_request", err)
	}
	ok := `{"payload":` + string(bytes.Repeat([]byte("["), 100)) + string(bytes.Repeat([]byte("]"), 100)) + `}`
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("depth 100: %v", err)
	}
}

// FuzzParse checks Parse against encoding/json: it accepts exactly the JSON
// objects, keeps payload bytes exactly, and decodes strings the same way.
func FuzzParse(f *testing.F) {
	for _, seed := range seedFrames {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := Parse(data)
		if string(data) == Whoami {
			if err != nil || !frame.Whoami {
				t.Fatalf("whoami: %+v %v", frame, err)
			}
			return
		}
		if !utf8.Valid(data) {
			if !IsInvalidUTF8(err) {
				t.Fatalf("Parse(%q): err = %v, want ErrInvalidUTF8", data, err)
			}
			return
		}
		if err != nil && IsInvalidUTF8(err) {
			t.Fatalf("Parse(%q) = ErrInvalidUTF8 for valid UTF-8", data)
		}
		var obj map[string]json.RawMessage
		jerr := json.Unmarshal(data, &obj)
		if jerr != nil || obj == nil {
			if err == nil {
				t.Fatalf("Parse accepted %q, encoding/json says %v", data, jerr)
			}
			return
		}
		if err != nil {
			var std struct {
				Action, To, Channel *string
				ID                  json.RawMessage
			}
			if json.Unmarshal(data, &std) != nil || (std.ID != nil && string(std.ID) != "null" && std.ID[0] != '"' && std.ID[0] != '-' && (std.ID[0] < '0' || std.ID[0] > '9')) {
				return // a wrong field type: rejecting it is right
			}
			if std.Channel != nil && len(*std.Channel) > MaxChannelLength {
				return
			}
			if bytes.Count(data, []byte("\\u")) > 0 || bytes.ContainsAny(data, "ACTIONTOCHANNELID") {
				return // encoding/json matches keys case-insensitively; we do not
			}
			t.Fatalf("Parse rejected valid %q: %v", data, err)
		}
		if p, ok := obj["payload"]; ok && !bytes.Contains(data, p) {
			t.Fatalf("payload %q not found verbatim in %q", frame.Payload, data)
		}
		if frame.Payload != nil && !json.Valid(frame.Payload) {
			t.Fatalf("payload %q is not valid JSON", frame.Payload)
		}
		out := AppendDirect(nil, frame.To, frame.Action, frame.Payload)
		if !json.Valid(out) {
			t.Fatalf("AppendDirect built invalid JSON %q", out)
		}
	})
}

var seedFrames = []string{
	`whoami`,
	`{"action":"loopback","payload":{"hello":"world"}}`,
	`{"action":"loopback"}`,
	`{"action":"sendmessage","to":"AtuLLemUPHcCItg=","payload":[1,2,3]}`,
	`{"to":"AtuLLemUPHcCItg=","payload":"x"}`,
	`{"action":"send","message":"hi"}`,
	`{"action":"send"}`,
	`{"action":"subscribe","channel":"news","id":1}`,
	`{"action":"unsubscribe","channel":"news","id":"a"}`,
	`{"action":"publish","channel":"news","payload":{"n":12345678901234567890123}}`,
	`{"action":"nope"}`,
	`{"to":"x","payload":"\u00e9\ud83c\udfd3","from":"spoof"}`,
	`[1]`, `42`, `null`, `{`, `{"to":5}`,
}

// FuzzTrustedReader checks that on valid JSON the trusted reader finds the
// same members as the validating one, and never panics on anything.
func FuzzTrustedReader(f *testing.F) {
	for _, seed := range seedFrames {
		f.Add([]byte(seed))
	}
	f.Add([]byte(`{"a":"x\\\"y\\\\","b":[{"c":"]}"}],"d":-1.5e3,"e":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		trusted := NewTrustedObjectReader(data)
		var got [][]byte
		for key, value, ok := trusted.Next(); ok; key, value, ok = trusted.Next() {
			got = append(got, key, value)
		}
		if !json.Valid(data) {
			return
		}
		checked := NewObjectReader(data)
		var want [][]byte
		for key, value, ok := checked.Next(); ok; key, value, ok = checked.Next() {
			want = append(want, key, value)
		}
		if checked.Err() != nil {
			return // valid JSON, but not an object
		}
		if trusted.Err() != nil || len(got) != len(want) {
			t.Fatalf("trusted reader: %q, %v; validating reader: %q", got, trusted.Err(), want)
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("member %d: trusted %q, validating %q", i, got[i], want[i])
			}
		}
	})
}

// TestParseInvalidUTF8: a frame that is not valid UTF-8 is ErrInvalidUTF8,
// wherever the bad bytes are and whatever else is wrong with it; valid
// multi-byte text parses.
func TestParseInvalidUTF8(t *testing.T) {
	invalid := []string{
		"\xff",
		"whoami\xff",
		"hello \xc3",
		`{"to":"B","payload":"` + "\xff" + `"}`,
		`{"to":"` + "\xc3\x28" + `","payload":1}`,
		`{"action":"send","message":"ok","id":"` + "\xe2\x82" + `"}`,
		`{"` + "\xff" + `":1}`,
		`{"payload":{"k":["a","b` + "\xc0\xaf" + `"]}}`,                       // overlong '/'
		`{"payload":"` + "\xed\xa0\x80" + `"}`,                                // a surrogate, encoded
		`{"payload":"` + "\xf4\x90\x80\x80" + `"}`,                            // past U+10FFFF
		`{"payload":"` + strings.Repeat("x", 40) + "\x80" + `"}`,              // past the short-string loop
		`{"payload":"a\n` + "\xff" + `\t"}`,                                   // between escapes
		`{"to":"B",,"payload":"` + "\xff" + `"}`,                              // and a syntax error first
		"{\"payload\":\"" + strings.Repeat("y", 100) + "\xf0\x9f\x8f" + "\"}", // cut short
	}
	for _, in := range invalid {
		_, err := Parse([]byte(in))
		if !IsInvalidUTF8(err) {
			t.Errorf("Parse(%q): err = %v, want ErrInvalidUTF8", in, err)
		}
		if !errors.Is(err, ErrBadRequest) {
			t.Errorf("Parse(%q): err = %v, want a bad_request", in, err)
		}
	}
	valid := []string{`{"to":"é","payload":"🏓 ünï ✓"}`, `{"payload":"` + strings.Repeat("日本", 40) + `"}`}
	for _, in := range valid {
		if _, err := Parse([]byte(in)); err != nil {
			t.Errorf("Parse(%q): %v", in, err)
		}
	}
	if IsInvalidUTF8(NewError(CodeBadRequest, "frame is not JSON")) {
		t.Error("IsInvalidUTF8 matches another bad_request")
	}
}
