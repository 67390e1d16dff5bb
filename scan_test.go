package monologue

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/internal/wsframe"
)

func TestParseServerFrame(t *testing.T) {
	tests := []struct {
		frame string
		want  serverFrame
		bad   bool
	}{
		{frame: `{"to":"A","from":"B","payload":{"x":[1,"}"]}}`,
			want: serverFrame{to: []byte(`"A"`), from: []byte(`"B"`), payload: []byte(`{"x":[1,"}"]}`)}},
		{frame: ` { "channel" : "c\"h" , "payload" : 12.5e3 } `,
			want: serverFrame{channel: []byte(`"c\"h"`), payload: []byte(`12.5e3`)}},
		{frame: `{"error":{"code":"gone","message":"no"},"id":17,"to":"X"}`,
			want: serverFrame{errorObject: []byte(`{"code":"gone","message":"no"}`), id: []byte(`17`), to: []byte(`"X"`)}},
		{frame: `{"action":"subscribed","channel":"c","id":"3"}`,
			want: serverFrame{action: []byte(`"subscribed"`), channel: []byte(`"c"`), id: []byte(`"3"`)}},
		{frame: `{}`},
		{frame: `{"payload":null,"other":[{},[]]}`, want: serverFrame{payload: []byte(`null`)}},
		{frame: `{"a":1,}`, bad: true},
		{frame: `{"a" 1}`, bad: true},
		{frame: `{"a":"unterminated}`, bad: true},
		{frame: `{"a":[1,2}`, bad: true},
		{frame: `[1]`, bad: true},
		{frame: ``, bad: true},
		{frame: `{"a":}`, bad: true},
	}
	for _, tt := range tests {
		got, err := parseServerFrame([]byte(tt.frame))
		if (err != nil) != tt.bad {
			t.Errorf("%s: error %v", tt.frame, err)
			continue
		}
		if !tt.bad && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.frame, got, tt.want)
		}
	}
}

func TestParseRPC(t *testing.T) {
	tests := []struct {
		payload string
		want    rpcEnvelope
		ok      bool
	}{
		{payload: `{"type":"REQ","data":{"token":5,"name":"m","args":[1,"a"]}}`, ok: true,
			want: rpcEnvelope{kind: 'Q', token: []byte(`5`), name: []byte(`"m"`), args: []byte(`[1,"a"]`)}},
		{payload: `{"data":{"ret":{"a":1},"token":"7"},"type":"ACK"}`, ok: true,
			want: rpcEnvelope{kind: 'A', token: []byte(`"7"`), ret: []byte(`{"a":1}`)}},
		{payload: `{"type":"ERR","data":{"token":1,"error":{"code":"not_found","message":"m"}}}`, ok: true,
			want: rpcEnvelope{kind: 'E', token: []byte(`1`), errorObject: []byte(`{"code":"not_found","message":"m"}`)}},
		{payload: `{"type":"NOTE","data":{"token":1}}`},
		{payload: `{"type":"ACK","data":[1]}`},
		{payload: `{"type":"ACK","data":{"ret":1}}`}, // no token
		{payload: `"REQ"`},
		{payload: ``},
	}
	for _, tt := range tests {
		got, ok := parseRPC([]byte(tt.payload))
		if ok != tt.ok || (ok && !reflect.DeepEqual(got, tt.want)) {
			t.Errorf("%s: got %+v, %v", tt.payload, got, ok)
		}
	}
	code, message := parseErrorObject([]byte(`{"message":"caf\u00e9 \"x\"","code":"handler_error"}`))
	if code != "handler_error" || message != `café "x"` {
		t.Errorf("parseErrorObject: %q %q", code, message)
	}
}

func TestParseToken(t *testing.T) {
	for raw, want := range map[string]uint64{`1`: 1, `"42"`: 42, `18446744073709551`: 18446744073709551} {
		if got, ok := parseToken([]byte(raw)); !ok || got != want {
			t.Errorf("%s: %d, %v", raw, got, ok)
		}
	}
	for _, raw := range []string{``, `""`, `-1`, `1.5`, `"a"`, `99999999999999999999`, `null`} {
		if _, ok := parseToken([]byte(raw)); ok {
			t.Errorf("%s accepted", raw)
		}
	}
}

// FuzzScan checks that the scanner never panics, and that on valid JSON it
// agrees with encoding/json.
func FuzzScan(f *testing.F) {
	for _, seed := range []string{
		`{"to":"A","from":"B","payload":{"type":"REQ","data":{"token":1,"name":"m","args":[1,"x",{"a":[]}]}}}`,
		`{"channel":"c","payload":"\\\"}"}`, `[1,[2,[3]],"]"]`, `{"a":true,"b":null}`, `[]`, `{}`, `"x"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, frameErr := parseServerFrame(data)
		parseRPC(data)
		elements, arrayErr := splitArray(data, nil)
		if !json.Valid(data) {
			return
		}
		var object map[string]json.RawMessage
		if json.Unmarshal(data, &object) == nil {
			if frameErr != nil {
				t.Fatalf("valid object rejected: %s", data)
			}
			if p, ok := object["payload"]; ok && !bytes.Equal(compact(p), compact(frame.payload)) {
				t.Fatalf("payload %s, want %s", frame.payload, p)
			}
		}
		var array []json.RawMessage
		if json.Unmarshal(data, &array) == nil {
			if arrayErr != nil || len(array) != len(elements) {
				t.Fatalf("array %s: %d elements, want %d (%v)", data, len(elements), len(array), arrayErr)
			}
		}
	})
}

func compact(b []byte) []byte {
	var out bytes.Buffer
	_ = json.Compact(&out, b)
	return out.Bytes()
}

func TestAppendValueMatchesEncodingJSON(t *testing.T) {
	values := []any{
		nil, "", "a\"b\\c\n\t\x01é", true, false, 0, -1, math.MaxInt64, uint64(math.MaxUint64), int8(-8),
		0.0, math.Copysign(0, -1), 1.5, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, float32(3.14), float32(1e-7), math.SmallestNonzeroFloat64,
		[]any{1, "x", nil}, []string{"a", "b"}, []any{}, map[string]any{"z": 1, "a": []any{true}},
		struct {
			A int `json:"a,omitempty"`
			B string
		}{B: "b"},
	}
	for _, v := range values {
		got, err := appendValue(nil, v)
		if err != nil {
			t.Errorf("%#v: %v", v, err)
			continue
		}
		want, _ := json.Marshal(v)
		if !bytes.Equal(got, want) {
			t.Errorf("%#v: got %s, want %s", v, got, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), json.RawMessage(`{`), make(chan int)} {
		if _, err := appendValue(nil, v); err == nil {
			t.Errorf("%v accepted", v)
		}
	}
	if got, _ := appendValue(nil, json.RawMessage(` { "a" : 1 } `)); string(got) != ` { "a" : 1 } ` {
		t.Errorf("json.RawMessage re-encoded: %s", got)
	}
}

func TestDecodeValue(t *testing.T) {
	var s string
	var b bool
	var a any
	var n int
	var raw json.RawMessage
	for _, c := range []struct {
		data string
		dst  any
		want any
	}{
		{`"plain"`, &s, "plain"}, {`"esc\"aped\u00e9"`, &s, `esc"apedé`}, {`true`, &b, true},
		{`"x"`, &a, "x"}, {`null`, &a, nil}, {`[1]`, &a, []any{1.0}}, {`12`, &n, 12}, {`{"a" : 1}`, &raw, json.RawMessage(`{"a" : 1}`)},
	} {
		if err := decodeValue([]byte(c.data), c.dst); err != nil {
			t.Errorf("%s: %v", c.data, err)
			continue
		}
		if got := reflect.ValueOf(c.dst).Elem().Interface(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.data, got, c.want)
		}
	}
	s = "kept"
	if err := decodeValue([]byte(`null`), &s); err != nil || s != "kept" {
		t.Errorf("null into string: %q, %v", s, err)
	}
	if err := decodeValue([]byte(`"x"`), &n); err == nil {
		t.Error("string into int accepted")
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 200000} {
		payload := []byte(strings.Repeat("abcdefg", size/7+1)[:size])
		frame := appendFrame(nil, ws.OpText, payload)
		r := bufio.NewReader(bytes.NewReader(frame))
		h, err := wsframe.ReadHeader(r)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if !h.Fin || h.OpCode != ws.OpText || !h.Masked || h.Length != int64(size) {
			t.Fatalf("size %d: header %+v", size, h)
		}
		got, err := wsframe.ReadPayload(r, nil, h, readChunk) // unmasks
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("size %d: payload differs", size)
		}
		// gobwas/ws reads our headers the same way.
		gobwasHeader, err := ws.ReadHeader(bytes.NewReader(frame))
		if err != nil || gobwasHeader != h {
			t.Fatalf("size %d: gobwas read %+v, %v", size, gobwasHeader, err)
		}
	}
}

func TestNormalizeEndpoint(t *testing.T) {
	for in, want := range map[string]string{
		"ws://h:1/":         "ws://h:1/",
		"ws://h:1":          "ws://h:1/",
		"h:1":               "ws://h:1/",
		"http://h:1/latest": "ws://h:1/latest",
		"https://h":         "wss://h/",
		"ws://h:1?apiKey=k": "ws://h:1/?apiKey=k",
	} {
		if got := normalizeEndpoint(in); got != want {
			t.Errorf("%s: got %s, want %s", in, got, want)
		}
	}
}

// The frame parser against encoding/json, on the hot frame of the Call path.
var ackFrame = []byte(`{"to":"AtuLLemUPHcCItg=","from":"BtuLLemUPHcCItg=","payload":{"type":"ACK","data":{"token":123456,"ret":"frommachine1"}}}`)

func BenchmarkParseACK(b *testing.B) {
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, _ := parseServerFrame(ackFrame)
			env, _ := parseRPC(f.payload)
			if _, ok := parseToken(env.token); !ok {
				b.Fatal("no token")
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var f struct {
				To, From string
				Payload  json.RawMessage
			}
			var env struct {
				Type string
				Data struct {
					Token json.RawMessage
					Ret   json.RawMessage
				}
			}
			if json.Unmarshal(ackFrame, &f) != nil || json.Unmarshal(f.Payload, &env) != nil {
				b.Fatal("unmarshal")
			}
		}
	})
}
