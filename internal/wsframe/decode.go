package wsframe

import (
	"bufio"
	"encoding/binary"
	"io"
	"slices"

	"github.com/gobwas/ws"
)

// HeaderSize is the size of a frame header, 2 to [ws.MaxHeaderSize] bytes,
// given its second byte: the mask bit and the length, which says whether an
// extended length follows.
func HeaderSize(second byte) int {
	size := 2
	switch second &^ maskedBit {
	case length16:
		size += 2
	case length64:
		size += 8
	}
	if second&maskedBit != 0 {
		size += 4
	}
	return size
}

// ParseHeader decodes the frame header at the start of b, which must hold
// its HeaderSize(b[1]) bytes (io.ErrUnexpectedEOF otherwise). A 64-bit
// length with its top bit set is [ws.ErrHeaderLengthMSB]. It checks nothing
// else: the reserved bits, the opcode and the mask bit are the caller's to
// judge.
func ParseHeader(b []byte) (h ws.Header, err error) {
	if len(b) < 2 || len(b) < HeaderSize(b[1]) {
		return h, io.ErrUnexpectedEOF
	}
	err = parseHeader(b, &h)
	return h, err
}

// parseHeader is ParseHeader once b is known to hold the whole header. It
// fills in *h rather than returning a ws.Header, which (with its mask
// array) would be copied through memory on the way back.
func parseHeader(b []byte, h *ws.Header) error {
	h.Fin = b[0]&finalBit != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&maskedBit != 0
	rest := b[2:]
	switch length := b[1] &^ maskedBit; length {
	case length16:
		h.Length = int64(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
	case length64:
		n := binary.BigEndian.Uint64(rest)
		if n>>63 != 0 {
			return ws.ErrHeaderLengthMSB
		}
		h.Length = int64(n)
		rest = rest[8:]
	default:
		h.Length = int64(length)
	}
	if h.Masked {
		copy(h.Mask[:], rest)
	}
	return nil
}

// ReadHeader reads a frame header from r without allocating: it decodes
// the header in r's buffer and then discards it. It returns r's error as
// it is when no byte of a header arrived (io.EOF: the stream ended between
// frames), io.ErrUnexpectedEOF when the stream ended inside one, and
// [ws.ErrHeaderLengthMSB] for a length it cannot represent, leaving that
// header unread.
func ReadHeader(r *bufio.Reader) (h ws.Header, err error) {
	b, err := r.Peek(2)
	if err != nil {
		return h, err
	}
	size := HeaderSize(b[1])
	if b, err = r.Peek(size); err != nil {
		return h, noEOF(err)
	}
	if err = parseHeader(b, &h); err != nil {
		return h, err
	}
	_, _ = r.Discard(size)
	return h, nil
}

// ReadPayload appends the payload of the frame whose header is h, read from
// r, to dst, and unmasks it if h says it is masked. It grows dst as bytes
// arrive, chunk bytes at a time (chunk > 0), rather than by the length the
// peer declared. On error it returns dst as it was (its capacity perhaps grown),
// and io.ErrUnexpectedEOF when the stream ended before the payload did.
func ReadPayload(r io.Reader, dst []byte, h ws.Header, chunk int) ([]byte, error) {
	start := len(dst)
	for done := int64(0); done < h.Length; {
		n := int(min(h.Length-done, int64(chunk)))
		at := len(dst)
		dst = slices.Grow(dst, n)[:at+n]
		if _, err := io.ReadFull(r, dst[at:]); err != nil {
			return dst[:start], noEOF(err)
		}
		if h.Masked {
			ws.Cipher(dst[at:], h.Mask, int(done))
		}
		done += int64(n)
	}
	return dst, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF, for reads that end inside a
// frame.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
