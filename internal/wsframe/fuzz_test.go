package wsframe

import (
	"bufio"
	"bytes"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// validFrames is every shape of valid frame: each opcode, final or not,
// masked or not, each length encoding at its edges, with reserved bits.
func validFrames() [][]byte {
	var frames [][]byte
	ops := []ws.OpCode{ws.OpContinuation, ws.OpText, ws.OpBinary, ws.OpClose, ws.OpPing, ws.OpPong}
	for _, op := range ops {
		for _, size := range []int{0, 1, 2, 5, 125, 126, 127, 1000, 0xffff, 0x10000} {
			if op.IsControl() && size > ws.MaxControlFramePayloadSize {
				continue
			}
			payload := bytes.Repeat([]byte{'m'}, size)
			frames = append(frames,
				AppendFrame(nil, op, payload),
				AppendMaskedFrame(nil, op, payload, testMask))
		}
	}
	notFinal := AppendFrame(nil, ws.OpText, []byte("part"))
	notFinal[0] &^= 0x80
	withRsv := AppendMaskedFrame(nil, ws.OpText, []byte("compressed"), testMask)
	withRsv[0] |= 0x40
	return append(frames, notFinal, withRsv)
}

// FuzzReadHeader checks ReadHeader against gobwas/ws's reader: they accept
// the same headers and decode them the same way. What it accepts,
// ReadHeader consumes exactly, ParseHeader decodes alike, the encoder
// writes back byte for byte (when the length was encoded in the fewest
// bytes), and ReadPayload unmasks.
func FuzzReadHeader(f *testing.F) {
	for _, frame := range validFrames() {
		f.Add(frame)
	}
	f.Add([]byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x81, 0x80 | 126, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		source := bytes.NewReader(data)
		r := bufio.NewReader(source)
		h, err := ReadHeader(r)
		want, wantErr := ws.ReadHeader(bytes.NewReader(data))
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("% x: ReadHeader %+v, %v; gobwas/ws %+v, %v", start(data), h, err, want, wantErr)
		}
		if err != nil {
			return
		}
		if h != want {
			t.Fatalf("% x: ReadHeader %+v, gobwas/ws %+v", start(data), h, want)
		}
		size := HeaderSize(data[1])
		if consumed := len(data) - source.Len() - r.Buffered(); consumed != size {
			t.Fatalf("% x: consumed %d bytes, header size %d", start(data), consumed, size)
		}
		if parsed, err := ParseHeader(data); err != nil || parsed != h {
			t.Fatalf("% x: ParseHeader %+v, %v; ReadHeader %+v", start(data), parsed, err, h)
		}
		if h.Fin && h.Rsv == 0 && fewestBytes(data[1], h.Length) {
			var encoded []byte
			if h.Masked {
				encoded = appendHeader(nil, h.OpCode, int(h.Length), maskedBit)
				encoded = append(encoded, h.Mask[:]...)
			} else {
				encoded = appendHeader(nil, h.OpCode, int(h.Length), 0)
			}
			if !bytes.Equal(encoded, data[:size]) {
				t.Fatalf("% x: encoded back as % x", data[:size], encoded)
			}
		}
		rest := data[size:]
		payload, err := ReadPayload(r, nil, h, 7)
		if h.Length > int64(len(rest)) {
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("% x: %d of %d payload bytes: %v, want io.ErrUnexpectedEOF", start(data), len(rest), h.Length, err)
			}
			return
		}
		expected := rest[:h.Length]
		if h.Masked {
			expected = maskBytes(expected, h.Mask)
		}
		if err != nil || !bytes.Equal(payload, expected) {
			t.Fatalf("% x: payload differs (%v)", start(data), err)
		}
	})
}

// fewestBytes reports whether a header's second byte encodes length in the
// fewest bytes, as the encoder does.
func fewestBytes(second byte, length int64) bool {
	switch second &^ maskedBit {
	case length16:
		return length >= length16 && length <= 0xffff
	case length64:
		return length > 0xffff
	}
	return true
}

// start is the beginning of a fuzzed input, for messages.
func start(data []byte) []byte { return data[:min(len(data), 16)] }
