package wire

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

// Word-at-a-time scanning of JSON strings: eight bytes are checked at once
// for the bytes that end a plain run. On the low seven bits of each byte the
// tests below never miss a byte they look for; they may flag a byte they
// should not (after a borrow), which only sends that word to the byte loop.

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// below flags the bytes of w that are under n, for w with every high bit clear.
func below(w, n uint64) uint64 { return (w - ones*n) & ^w & highs }

// equal flags the bytes of w equal to c, for w with every high bit clear.
func equal(w, c uint64) uint64 {
	x := w ^ (ones * c)
	return (x - ones) & ^x & highs
}

// special flags the bytes of a word (high bits cleared) that a JSON string
// cannot hold as they are: control characters, '"' and '\\'.
func special(low uint64) uint64 { return below(low, 0x20) | equal(low, '"') | equal(low, '\\') }

// badText reports whether s, the text between the delimiters of a JSON
// string literal, holds a byte below 0x20 (which a literal may not hold as
// it is) or is not valid UTF-8. Plain ASCII is checked a word at a time, and
// only a segment with a byte of 128 or more pays for the UTF-8 check.
// Segments end at ASCII delimiters ('"', '\\'), which never fall inside a
// valid multi-byte sequence, so checking each alone checks the whole.
func badText(s []byte) bool {
	// A byte under 0x80 is a control character when adding 0x60 leaves its
	// high bit clear; with the high bits cleared first no sum carries into
	// the next byte, so the test is exact and needs no branch per word:
	// the flags of every word are gathered and looked at once at the end.
	const add = 0x6060606060606060
	var high, ctrl uint64 // the high bits of every word; the control flags
	i := 0
	for ; i+32 <= len(s); i += 32 { // four words a round
		w0 := binary.LittleEndian.Uint64(s[i:])
		w1 := binary.LittleEndian.Uint64(s[i+8:])
		w2 := binary.LittleEndian.Uint64(s[i+16:])
		w3 := binary.LittleEndian.Uint64(s[i+24:])
		high |= w0 | w1 | w2 | w3
		ctrl |= ^((w0 &^ highs) + add) &^ w0 & highs
		ctrl |= ^((w1 &^ highs) + add) &^ w1 & highs
		ctrl |= ^((w2 &^ highs) + add) &^ w2 & highs
		ctrl |= ^((w3 &^ highs) + add) &^ w3 & highs
	}
	for ; i+8 <= len(s); i += 8 {
		w := binary.LittleEndian.Uint64(s[i:])
		high |= w
		ctrl |= ^((w &^ highs) + add) &^ w & highs
	}
	for ; i < len(s); i++ {
		if s[i] < 0x20 {
			return true
		}
		high |= uint64(s[i])
	}
	return ctrl != 0 || high&highs != 0 && !utf8.Valid(s)
}

// asciiRun returns the length of the leading whole words of s that are
// printable ASCII other than '"' and '\\': a run that can be written into a
// string literal as it is, with no escaping and no UTF-8 check.
func asciiRun(s string) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if w&highs != 0 || special(w) != 0 {
			break
		}
	}
	return i
}
