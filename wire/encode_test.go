package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestAppendFrames(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"direct", AppendDirect(nil, "B=", "A=", []byte(`{"x": 1}`)), `{"to":"B=","from":"A=","payload":{"x": 1}}`},
		{"direct no payload", AppendDirect(nil, "B=", "A=", nil), `{"to":"B=","from":"A="}`},
		{"channel", AppendChannel(nil, "news", "A=", []byte(`7`)), `{"channel":"news","from":"A=","payload":7}`},
		{"broadcast", AppendChannel(nil, "news", "", []byte(`"hi"`)), `{"channel":"news","payload":"hi"}`},
		{"error", AppendError(nil, CodeGone, "no connection", []byte(`"r1"`), "B="), `{"error":{"code":"gone","message":"no connection"},"id":"r1","to":"B="}`},
		{"error bare", AppendError(nil, CodeBadRequest, "frame is not JSON", nil, ""), `{"error":{"code":"bad_request","message":"frame is not JSON"}}`},
		{"subscribed", AppendSubscription(nil, true, "c", nil), `{"action":"subscribed","channel":"c"}`},
		{"unsubscribed id", AppendSubscription(nil, false, "c", []byte(`3`)), `{"action":"unsubscribed","channel":"c","id":3}`},
		{"send reply", AppendSendReply(nil, []byte(`{"a":1}`)), `{"message":{"a":1}}`},
		{"pong", AppendSendReply(nil, nil), `{"message":"🏓 pong"}`},
		{"escapes", AppendString(nil, "a\"b\\c\n\x01é\xff"), `"a\"b\\c\n\u0001é\ufffd"`},
		{"body json", BodyPayload([]byte(`{"a":1}`)), `{"a":1}`},
		{"body text", BodyPayload([]byte(`hello "x"`)), `"hello \"x\""`},
		{"body empty", BodyPayload(nil), `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Fatalf("got  %s\nwant %s", tt.got, tt.want)
			}
			if !json.Valid(tt.got) {
				t.Fatalf("%s is not valid JSON", tt.got)
			}
		})
	}
}

func TestDirectSize(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte(`1`), []byte(`{"a":[1,2]}`)} {
		if got, want := DirectSize("AtuLLemUPHcCItg=", "BtuLLemUPHcCItg=", payload), len(AppendDirect(nil, "AtuLLemUPHcCItg=", "BtuLLemUPHcCItg=", payload)); got != want {
			t.Errorf("DirectSize = %d, want %d", got, want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("send: %w", NewError(CodeGone, "no connection x"))
	if !errors.Is(err, ErrGone) {
		t.Fatal("wrapped gone error does not match ErrGone")
	}
	if errors.Is(err, ErrRateLimited) {
		t.Fatal("gone error matches ErrRateLimited")
	}
	if got := NewError(CodeGone, "x").Error(); got != "monologue: gone: x" {
		t.Fatalf("Error() = %q", got)
	}
	for _, c := range []Code{CodeBadRequest, CodeUnknownAction, CodeGone, CodePayloadTooLarge, CodeRateLimited, CodeForbidden, CodeInternal} {
		if !c.Known() || c.Info().HTTPStatus == 0 || c.Info().AWSType == "" {
			t.Errorf("code %s missing from the table", c)
		}
	}
	if Code("nope").Known() {
		t.Error("unknown code reported known")
	}
}

func TestCodes(t *testing.T) {
	got := Codes()
	if !slices.IsSorted(got) {
		t.Errorf("Codes() = %v, not sorted", got)
	}
	for _, sentinel := range []*Error{ErrBadRequest, ErrUnknownAction, ErrGone, ErrPayloadTooLarge, ErrRateLimited, ErrForbidden, ErrInternal} {
		if !slices.Contains(got, sentinel.Code) {
			t.Errorf("Codes() = %v, lacks %s", got, sentinel.Code)
		}
	}
	for _, c := range got {
		if !c.Known() {
			t.Errorf("Codes() has %s, which is not Known", c)
		}
	}
}

func TestNewConnectionID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id := NewConnectionID()
		if len(id) != 16 || !strings.HasSuffix(id, "=") {
			t.Fatalf("ID %q does not look like API Gateway's", id)
		}
		if seen[id] {
			t.Fatalf("ID %q issued twice", id)
		}
		seen[id] = true
	}
}

func BenchmarkParseDirect(b *testing.B) {
	frame := []byte(`{"action":"sendmessage","to":"AtuLLemUPHcCItg=","payload":{"type":"REQ","data":{"token":"12","name":"echo","args":["` + strings.Repeat("x", 64) + `"]}}}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDirect4K(b *testing.B) {
	frame := []byte(`{"to":"AtuLLemUPHcCItg=","payload":{"type":"REQ","data":{"token":"12","name":"echo","args":["` + strings.Repeat("x", 4096) + `"]}}}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendString4K(b *testing.B) {
	s := strings.Repeat("x", 4096)
	buf := make([]byte, 0, 8192)
	b.SetBytes(4096)
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
