package wsframe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

func TestHeaderSize(t *testing.T) {
	tests := []struct {
		second byte
		want   int
	}{
		{second: 0, want: 2},
		{second: 125, want: 2},
		{second: 126, want: 4},
		{second: 127, want: 10},
		{second: 0x80, want: 6},
		{second: 0x80 | 125, want: 6},
		{second: 0x80 | 126, want: 8},
		{second: 0x80 | 127, want: 14},
	}
	for _, tt := range tests {
		if got := HeaderSize(tt.second); got != tt.want {
			t.Errorf("HeaderSize(%#x) = %d, want %d", tt.second, got, tt.want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		want  ws.Header
		err   error
	}{
		{
			name:  "final text",
			bytes: []byte{0x81, 5},
			want:  ws.Header{Fin: true, OpCode: ws.OpText, Length: 5},
		},
		{
			name:  "continuation, not final",
			bytes: []byte{0x00, 0},
			want:  ws.Header{OpCode: ws.OpContinuation},
		},
		{
			name:  "reserved bits and opcode are reported, not judged",
			bytes: []byte{0xf3, 1},
			want:  ws.Header{Fin: true, Rsv: 7, OpCode: 3, Length: 1},
		},
		{
			name:  "masked",
			bytes: []byte{0x89, 0x80 | 2, 1, 2, 3, 4},
			want:  ws.Header{Fin: true, OpCode: ws.OpPing, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 2},
		},
		{
			name:  "16-bit length",
			bytes: []byte{0x82, 126, 0x01, 0x02},
			want:  ws.Header{Fin: true, OpCode: ws.OpBinary, Length: 0x0102},
		},
		{
			name:  "16-bit length, masked",
			bytes: []byte{0x81, 0x80 | 126, 0xff, 0xff, 9, 8, 7, 6},
			want:  ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: [4]byte{9, 8, 7, 6}, Length: 0xffff},
		},
		{
			name:  "64-bit length, masked",
			bytes: []byte{0x81, 0x80 | 127, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 9, 8, 7, 6},
			want:  ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: [4]byte{9, 8, 7, 6}, Length: 1<<63 - 1},
		},
		{
			name:  "bytes after the header are ignored",
			bytes: []byte{0x81, 1, 'x', 0x81},
			want:  ws.Header{Fin: true, OpCode: ws.OpText, Length: 1},
		},
		{
			name:  "64-bit length with its top bit set",
			bytes: []byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
			err:   ws.ErrHeaderLengthMSB,
		},
		{name: "empty", bytes: nil, err: io.ErrUnexpectedEOF},
		{name: "one byte", bytes: []byte{0x81}, err: io.ErrUnexpectedEOF},
		{name: "16-bit length cut short", bytes: []byte{0x81, 126, 1}, err: io.ErrUnexpectedEOF},
		{name: "64-bit length cut short", bytes: []byte{0x81, 127, 0, 0, 0, 0, 0, 0, 1}, err: io.ErrUnexpectedEOF},
		{name: "mask key cut short", bytes: []byte{0x81, 0x80 | 1, 1, 2, 3}, err: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHeader(tt.bytes)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name   string
		stream []byte
		want   ws.Header
		err    error
		rest   int // bytes left in the reader afterwards
	}{
		{name: "end between frames", stream: nil, err: io.EOF},
		{name: "one byte, then the end", stream: []byte{0x81}, err: io.EOF, rest: 1},
		{name: "end inside the length", stream: []byte{0x81, 126, 1}, err: io.ErrUnexpectedEOF, rest: 3},
		{name: "end inside the mask key", stream: []byte{0x81, 0x80 | 1, 1, 2}, err: io.ErrUnexpectedEOF, rest: 4},
		{
			name:   "top bit of the length set: left unread",
			stream: []byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
			err:    ws.ErrHeaderLengthMSB,
			rest:   10,
		},
		{
			name:   "header then payload",
			stream: []byte{0x81, 0x80 | 3, 1, 2, 3, 4, 'a', 'b', 'c'},
			want:   ws.Header{Fin: true, OpCode: ws.OpText, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 3},
			rest:   3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(tt.stream))
			got, err := ReadHeader(r)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error %v, want %v", err, tt.err)
			}
			if err == nil && got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if r.Buffered() != tt.rest {
				t.Fatalf("%d bytes left, want %d", r.Buffered(), tt.rest)
			}
		})
	}
}

// TestRoundTrip: frames appended one after the other read back, with
// gobwas/ws reading the same headers, whatever the chunk size.
func TestRoundTrip(t *testing.T) {
	sizes := []int{0, 1, 3, 125, 126, 127, 0xffff, 0x10000, 200000}
	var stream []byte
	var payloads [][]byte
	for i, size := range sizes {
		payload := []byte(strings.Repeat("abcdefg", size/7+1)[:size])
		payloads = append(payloads, payload)
		if i%2 == 0 {
			stream = AppendFrame(stream, ws.OpText, payload)
		} else {
			mask := [4]byte{byte(i), 0xa5, 0x5a, byte(size)}
			stream = AppendMaskedFrame(stream, ws.OpBinary, payload, mask)
		}
	}
	for _, chunk := range []int{1, 3, 4, 7, 32 << 10, 1 << 20} {
		r := bufio.NewReader(bytes.NewReader(stream))
		oracle := bytes.NewReader(stream)
		for i, want := range payloads {
			h, err := ReadHeader(r)
			if err != nil {
				t.Fatalf("chunk %d, frame %d: %v", chunk, i, err)
			}
			gobwas, err := ws.ReadHeader(oracle)
			if err != nil || gobwas != h {
				t.Fatalf("chunk %d, frame %d: read %+v, gobwas/ws %+v, %v", chunk, i, h, gobwas, err)
			}
			if _, err := oracle.Seek(h.Length, io.SeekCurrent); err != nil {
				t.Fatal(err)
			}
			if !h.Fin || h.Masked != (i%2 == 1) || h.Length != int64(len(want)) {
				t.Fatalf("chunk %d, frame %d: header %+v", chunk, i, h)
			}
			got, err := ReadPayload(r, []byte("kept"), h, chunk)
			if err != nil {
				t.Fatalf("chunk %d, frame %d: %v", chunk, i, err)
			}
			if string(got[:4]) != "kept" || !bytes.Equal(got[4:], want) {
				t.Fatalf("chunk %d, frame %d: payload differs", chunk, i)
			}
		}
		if _, err := ReadHeader(r); err != io.EOF {
			t.Fatalf("chunk %d: after the last frame %v, want io.EOF", chunk, err)
		}
	}
}

// errReader returns its bytes, then its error.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadPayloadErrors(t *testing.T) {
	errBroken := errors.New("broken")
	tests := []struct {
		name   string
		data   string
		err    error // what the reader returns after data
		length int64
		chunk  int
		want   error
	}{
		{name: "end inside a chunk", data: "abc", err: io.EOF, length: 10, chunk: 8, want: io.ErrUnexpectedEOF},
		{name: "end at a chunk boundary", data: "abcd", err: io.EOF, length: 10, chunk: 4, want: io.ErrUnexpectedEOF},
		{name: "end before any byte", data: "", err: io.EOF, length: 1, chunk: 4, want: io.ErrUnexpectedEOF},
		{name: "other errors pass through", data: "ab", err: errBroken, length: 10, chunk: 4, want: errBroken},
		{name: "huge declared length", data: "abc", err: io.EOF, length: 1 << 40, chunk: 1024, want: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &errReader{data: []byte(tt.data), err: tt.err}
			got, err := ReadPayload(r, []byte("kept"), ws.Header{Length: tt.length}, tt.chunk)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if string(got) != "kept" {
				t.Fatalf("dst %q after the error, want it as it was", got)
			}
			if cap(got) > 4*tt.chunk+len("kept") {
				t.Fatalf("dst grew to %d bytes for %d that arrived", cap(got), len(tt.data))
			}
		})
	}
}

func TestReadPayloadEmpty(t *testing.T) {
	r := &errReader{err: errors.New("read")}
	got, err := ReadPayload(r, []byte("kept"), ws.Header{Masked: true, Mask: testMask}, 4)
	if err != nil || string(got) != "kept" {
		t.Fatalf("got %q, %v; want nothing read", got, err)
	}
}

// TestReadDoesNotAllocate: reading a header, and a payload into a buffer
// with room, allocates nothing.
func TestReadDoesNotAllocate(t *testing.T) {
	payload := bytes.Repeat([]byte{'x'}, 4096)
	frame := AppendMaskedFrame(nil, ws.OpText, payload, testMask)
	source := bytes.NewReader(frame)
	r := bufio.NewReaderSize(source, 8192)
	dst := make([]byte, 0, len(payload))
	if n := testing.AllocsPerRun(100, func() {
		source.Reset(frame)
		r.Reset(source)
		h, err := ReadHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		if dst, err = ReadPayload(r, dst[:0], h, 32<<10); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per frame read", n)
	}
	if !bytes.Equal(dst, payload) {
		t.Error("payload differs")
	}
}
