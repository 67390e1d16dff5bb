package wsframe

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Bits of a header's first two bytes.
const (
	finalBit  = 0x80 // first byte: the last frame of a message
	maskedBit = 0x80 // second byte: a mask key follows the length
)

// Payload lengths that take a 16-bit or a 64-bit extended length.
const (
	length16 = 126
	length64 = 127
)

// FrameSize is the size of a final, unmasked frame (a server's) carrying n
// payload bytes: its header and the payload. A masked frame (a client's) is
// 4 bytes more, the mask key.
func FrameSize(n int) int {
	switch {
	case n < length16:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	}
	return 10 + n
}

// AppendFrame appends a final, unmasked frame of op carrying payload, as a
// server sends it.
func AppendFrame(dst []byte, op ws.OpCode, payload []byte) []byte {
	dst = appendHeader(dst, op, len(payload), 0)
	return append(dst, payload...)
}

// AppendHeader appends the header of a final, unmasked frame of op
// carrying n payload bytes, for a caller that places the payload itself.
func AppendHeader(dst []byte, op ws.OpCode, n int) []byte {
	return appendHeader(dst, op, n, 0)
}

// AppendMaskedFrame appends a final frame of op carrying payload masked
// with mask, as a client sends it (RFC 6455 §5.3: a fresh, unpredictable
// key for every frame). payload itself is left as it is.
func AppendMaskedFrame(dst []byte, op ws.OpCode, payload []byte, mask [4]byte) []byte {
	dst = appendHeader(dst, op, len(payload), maskedBit)
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// appendHeader appends the header of a final frame of op with a payload of
// n bytes, up to the mask key; masked is maskedBit or 0.
func appendHeader(dst []byte, op ws.OpCode, n int, masked byte) []byte {
	first := finalBit | byte(op)
	switch {
	case n < length16:
		return append(dst, first, masked|byte(n))
	case n <= 0xffff:
		return append(dst, first, masked|length16, byte(n>>8), byte(n))
	}
	dst = append(dst, first, masked|length64)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// MaxCloseReason is the longest reason a close frame carries: a control
// frame's payload is at most 125 bytes, and the status takes 2 of them.
const MaxCloseReason = ws.MaxControlFramePayloadSize - 2

// AppendCloseBody appends the payload of a close frame: status, then
// reason as valid UTF-8 (RFC 6455 §5.5.1), which a strict peer checks and
// fails the connection over. Bytes of reason that are not UTF-8 become
// U+FFFD, and a reason longer than MaxCloseReason bytes is cut at the last
// rune boundary that fits, never inside a rune.
func AppendCloseBody(dst []byte, status ws.StatusCode, reason string) []byte {
	reason = strings.ToValidUTF8(reason, "\uFFFD")
	if len(reason) > MaxCloseReason {
		cut := MaxCloseReason
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut]
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(status))
	return append(dst, reason...)
}
