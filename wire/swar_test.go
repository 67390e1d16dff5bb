package wire

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestRunsAgainstByteLoops checks the word-at-a-time runs against the byte
// loops they replace, for every byte value at every position of a word.
func TestRunsAgainstByteLoops(t *testing.T) {
	stringStop := func(c byte) bool { return c < 0x20 || c == '"' || c == '\\' }
	asciiStop := func(c byte) bool { return stringStop(c) || c >= 0x80 }
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 16; pos++ {
			for _, fill := range []byte{'a', 0xC3, 0xA2, 0xDC, 0x7F, ' '} {
				buf := []byte(strings.Repeat(string([]byte{fill}), 24))
				buf[pos] = byte(c)
				if got, want := badText(buf), bytes.IndexFunc(buf, func(r rune) bool { return r < 0x20 }) >= 0 || !utf8.Valid(buf); got != want {
					t.Fatalf("badText(%q) = %v, want %v", buf, got, want)
				}
				// And in the four-word rounds of a longer text, and its tail.
				long := []byte(strings.Repeat(string([]byte{fill}), 75))
				for _, at := range []int{pos, 16 + pos, 32 + pos, 59 + pos%16} {
					copy(long, strings.Repeat(string([]byte{fill}), len(long)))
					long[at] = byte(c)
					if got, want := badText(long), bytes.IndexFunc(long, func(r rune) bool { return r < 0x20 }) >= 0 || !utf8.Valid(long); got != want {
						t.Fatalf("badText(%q) = %v, want %v", long, got, want)
					}
				}
				// A run may stop early (after a borrow), never late.
				if got, limit := asciiRun(string(buf)), wholeWords(buf, asciiStop); got > limit || got%8 != 0 {
					t.Fatalf("asciiRun(%q) = %d, past %d", buf, got, limit)
				}
			}
		}
	}
}

func TestRunsCoverPlainText(t *testing.T) {
	text := strings.Repeat("The quick brown fox {jumps} over 1,234 lazy dogs; ~! ", 20)
	if got := asciiRun(text); got != len(text)/8*8 {
		t.Errorf("asciiRun stopped at %d of %d plain bytes", got, len(text))
	}
}

// wholeWords is the length of the leading whole 8-byte words of b with no
// byte that stops.
func wholeWords(b []byte, stop func(byte) bool) int {
	for i := 0; i < len(b); i++ {
		if stop(b[i]) {
			return i / 8 * 8
		}
	}
	return len(b) / 8 * 8
}
