package wire

import (
	"bytes"
	"unicode/utf8"
)

// ObjectReader walks the members of one JSON object without decoding them,
// validating as it goes. Keys keep their quotes and values are raw; both
// alias the input. It allocates nothing.
//
//	r := wire.NewObjectReader(data)
//	for key, value, ok := r.Next(); ok; key, value, ok = r.Next() { … }
//	if err := r.Err(); err != nil { … }
type ObjectReader struct {
	data    []byte
	pos     int
	started bool
	done    bool
	trusted bool // find boundaries only, see NewTrustedObjectReader
	err     error
}

// NewObjectReader returns a reader of the object in data; data must hold
// that object alone (space around it is fine).
func NewObjectReader(data []byte) ObjectReader {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ObjectReader{done: true, err: errSyntax}
	}
	return ObjectReader{data: data, pos: i + 1}
}

// NewTrustedObjectReader is NewObjectReader for JSON that was validated
// already, such as a frame the gateway built: it finds where keys and values
// end without validating them, which on long strings is several times
// faster. On invalid input it never panics; it may return wrong boundaries
// or stop with an error.
func NewTrustedObjectReader(data []byte) ObjectReader {
	r := NewObjectReader(data)
	r.trusted = true
	return r
}

// Next returns the next member's key, with its quotes, and raw value; ok is
// false at the end of the object or at the first error.
func (r *ObjectReader) Next() (key, value []byte, ok bool) {
	if r.done {
		return nil, nil, false
	}
	b := r.data
	i := skipSpace(b, r.pos)
	if i < len(b) && b[i] == '}' {
		r.done = true
		if skipSpace(b, i+1) != len(b) {
			r.err = errTrailing
		}
		return nil, nil, false
	}
	if r.started {
		if i >= len(b) || b[i] != ',' {
			return r.fail(errSyntax)
		}
		i = skipSpace(b, i+1)
	}
	r.started = true
	if i >= len(b) || b[i] != '"' {
		return r.fail(errSyntax)
	}
	end, err := r.skip(b, i)
	if err != nil {
		return r.fail(err)
	}
	key = b[i:end]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return r.fail(errSyntax)
	}
	i = skipSpace(b, i+1)
	if end, err = r.skip(b, i); err != nil {
		return r.fail(err)
	}
	r.pos = end
	return key, b[i:end], true
}

func (r *ObjectReader) skip(b []byte, i int) (int, error) {
	if r.trusted {
		return SkipTrusted(b, i)
	}
	return scanValue(b, i, 1)
}

func (r *ObjectReader) fail(err error) ([]byte, []byte, bool) {
	r.done, r.err = true, err
	return nil, nil, false
}

// Err returns the error that stopped the reader, or nil at a well-formed end.
func (r *ObjectReader) Err() error { return r.err }

// SkipValue returns the index just past the JSON value that starts at b[i]
// (no leading space), validating it.
func SkipValue(b []byte, i int) (int, error) { return scanValue(b, i, 0) }

// SkipTrusted is SkipValue for JSON that was validated already: it finds
// where the value ends without validating it (see NewTrustedObjectReader).
func SkipTrusted(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errSyntax
	}
	switch b[i] {
	case '"':
		return skipStringTrusted(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipStringTrusted(b, j)
				if err != nil {
					return end, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return len(b), errSyntax
	}
	j := i
	for j < len(b) && !isSpace(b[j]) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	if j == i {
		return j, errSyntax
	}
	return j, nil
}

// skipStringTrusted returns the index past the string literal at b[i]: the
// first quote not escaped by an odd run of backslashes.
func skipStringTrusted(b []byte, i int) (int, error) {
	for j := i + 1; ; {
		q := bytes.IndexByte(b[j:], '"')
		if q < 0 {
			return len(b), errSyntax
		}
		quote := j + q
		slashes := 0
		for k := quote - 1; k > i && b[k] == '\\'; k-- {
			slashes++
		}
		if slashes%2 == 0 {
			return quote + 1, nil
		}
		j = quote + 1
	}
}

// SkipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func SkipSpace(b []byte, i int) int { return skipSpace(b, i) }

// Unquote decodes a JSON string literal (with its quotes), as encoding/json
// does; ok is false when lit is not a valid string literal.
func Unquote(lit []byte) (s string, ok bool) {
	if len(lit) < 2 || lit[0] != '"' {
		return "", false
	}
	end, escaped, err := scanString(lit, 0)
	if err != nil || end != len(lit) {
		return "", false
	}
	return unquote(lit, escaped), true
}

// PlainString reports whether lit is a string literal with no escapes and
// valid UTF-8, so that its text is exactly lit[1:len(lit)-1].
func PlainString(lit []byte) bool {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return false
	}
	inner := lit[1 : len(lit)-1]
	return bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
}
