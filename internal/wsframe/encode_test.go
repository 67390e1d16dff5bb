package wsframe

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

var testMask = [4]byte{0x12, 0x34, 0x56, 0x78}

// maskBytes is a byte-by-byte masking, independent of ws.Cipher.
func maskBytes(p []byte, mask [4]byte) []byte {
	out := make([]byte, len(p))
	for i, b := range p {
		out[i] = b ^ mask[i%4]
	}
	return out
}

func TestAppendFrame(t *testing.T) {
	tests := []struct {
		name   string
		op     ws.OpCode
		size   int
		header []byte
	}{
		{name: "empty text", op: ws.OpText, size: 0, header: []byte{0x81, 0}},
		{name: "short text", op: ws.OpText, size: 5, header: []byte{0x81, 5}},
		{name: "longest 7-bit length", op: ws.OpText, size: 125, header: []byte{0x81, 125}},
		{name: "shortest 16-bit length", op: ws.OpText, size: 126, header: []byte{0x81, 126, 0, 126}},
		{name: "longest 16-bit length", op: ws.OpBinary, size: 0xffff, header: []byte{0x82, 126, 0xff, 0xff}},
		{name: "shortest 64-bit length", op: ws.OpText, size: 0x10000, header: []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
		{name: "close", op: ws.OpClose, size: 2, header: []byte{0x88, 2}},
		{name: "ping", op: ws.OpPing, size: 0, header: []byte{0x89, 0}},
		{name: "pong", op: ws.OpPong, size: 3, header: []byte{0x8a, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := []byte(strings.Repeat("abcdefg", tt.size/7+1)[:tt.size])
			prefix := []byte("queued")

			got := AppendFrame(bytes.Clone(prefix), tt.op, payload)
			want := append(append(bytes.Clone(prefix), tt.header...), payload...)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendFrame: got % x…, want % x…", got[:min(len(got), 16)], want[:min(len(want), 16)])
			}
			if n := FrameSize(tt.size); n != len(want)-len(prefix) {
				t.Errorf("FrameSize(%d) = %d, want %d", tt.size, n, len(want)-len(prefix))
			}
			if got := AppendHeader(bytes.Clone(prefix), tt.op, tt.size); !bytes.Equal(got, append(bytes.Clone(prefix), tt.header...)) {
				t.Errorf("AppendHeader: got % x, want % x", got, tt.header)
			}

			original := bytes.Clone(payload)
			got = AppendMaskedFrame(bytes.Clone(prefix), tt.op, payload, testMask)
			header := bytes.Clone(tt.header)
			header[1] |= 0x80
			want = append(append(append(bytes.Clone(prefix), header...), testMask[:]...), maskBytes(payload, testMask)...)
			if !bytes.Equal(got, want) {
				t.Errorf("AppendMaskedFrame: got % x…, want % x…", got[:min(len(got), 20)], want[:min(len(want), 20)])
			}
			if !bytes.Equal(payload, original) {
				t.Error("AppendMaskedFrame changed the payload it was given")
			}
		})
	}
}

// TestAppendFrameMatchesGobwas: gobwas/ws writes the same bytes for the
// same frame.
func TestAppendFrameMatchesGobwas(t *testing.T) {
	for _, size := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 200000} {
		payload := bytes.Repeat([]byte{'x'}, size)
		for _, masked := range []bool{false, true} {
			var want bytes.Buffer
			h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(size), Masked: masked, Mask: testMask}
			if err := ws.WriteHeader(&want, h); err != nil {
				t.Fatal(err)
			}
			var got []byte
			if masked {
				want.Write(maskBytes(payload, testMask))
				got = AppendMaskedFrame(nil, ws.OpText, payload, testMask)
			} else {
				want.Write(payload)
				got = AppendFrame(nil, ws.OpText, payload)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("size %d, masked %v: differs from gobwas/ws", size, masked)
			}
		}
	}
}

// TestAppendDoesNotAllocate: appending to a buffer with room allocates
// nothing.
func TestAppendDoesNotAllocate(t *testing.T) {
	payload := bytes.Repeat([]byte{'x'}, 4096)
	buf := make([]byte, 0, 2*FrameSize(len(payload))+8)
	if n := testing.AllocsPerRun(100, func() {
		buf = AppendFrame(buf[:0], ws.OpText, payload)
		buf = AppendMaskedFrame(buf, ws.OpText, payload, testMask)
	}); n != 0 {
		t.Errorf("%v allocations per append", n)
	}
}

func TestFrameSizeLarge(t *testing.T) {
	// The 64-bit length is used from 65536 bytes up; no need to build one.
	for _, n := range []int{0x10000, 1 << 40} {
		if got := FrameSize(n); got != 10+n {
			t.Errorf("FrameSize(%d) = %d, want %d", n, got, 10+n)
		}
		header := appendHeader(nil, ws.OpBinary, n, 0)
		if len(header) != 10 || binary.BigEndian.Uint64(header[2:]) != uint64(n) {
			t.Errorf("header for %d bytes: % x", n, header)
		}
	}
}

// TestAppendCloseBody: a close reason is valid UTF-8 and fits a control
// frame, however long or broken the reason given.
func TestAppendCloseBody(t *testing.T) {
	tests := []struct {
		name, reason, want string
	}{
		{name: "empty", reason: "", want: ""},
		{name: "short", reason: "bye", want: "bye"},
		{name: "exactly the limit", reason: strings.Repeat("a", MaxCloseReason), want: strings.Repeat("a", MaxCloseReason)},
		{name: "ASCII over the limit", reason: strings.Repeat("a", 200), want: strings.Repeat("a", MaxCloseReason)},
		// 61 × "é" is 122 bytes; the 62nd would end at byte 124.
		{name: "two-byte runes over the limit", reason: strings.Repeat("é", 100), want: strings.Repeat("é", 61)},
		// 30 × "🏓" is 120 bytes; the 31st would end at byte 124.
		{name: "four-byte runes over the limit", reason: strings.Repeat("🏓", 40), want: strings.Repeat("🏓", 30)},
		{name: "invalid bytes", reason: "a\xffb\xc3", want: "a\uFFFDb\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendCloseBody([]byte("x"), ws.StatusGoingAway, tt.reason)
			if got[0] != 'x' || binary.BigEndian.Uint16(got[1:]) != uint16(ws.StatusGoingAway) {
				t.Fatalf("prefix and status: % x", got[:3])
			}
			reason := got[3:]
			if string(reason) != tt.want {
				t.Errorf("reason %q, want %q", reason, tt.want)
			}
			if !utf8.Valid(reason) || len(got)-1 > ws.MaxControlFramePayloadSize {
				t.Errorf("payload of %d bytes, valid UTF-8 %v", len(got)-1, utf8.Valid(reason))
			}
		})
	}
}
