package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"
)

var noDeadline time.Time

// errSyntax reports JSON the small scanners here cannot split.
var errSyntax = errors.New("sio: malformed JSON array")

// String returns s as a JSON string value.
func String(s string) []byte { return AppendString(nil, s) }

// AppendString appends s as a JSON string value, taking a fast path when s
// is printable ASCII with nothing to escape.
func AppendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Unquote returns the Go string of a raw JSON string value.
func Unquote(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && bytes.IndexByte(raw[1:len(raw)-1], '"') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// SplitArray splits a JSON array into its top-level elements (sub-slices
// of data, whitespace trimmed) without decoding them.
func SplitArray(data []byte) ([][]byte, error) {
	data = bytes.TrimSpace(data)
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, errSyntax
	}
	inner := data[1 : len(data)-1]
	if len(bytes.TrimSpace(inner)) == 0 {
		return nil, nil
	}
	var (
		out      [][]byte
		depth    int
		inString bool
		escaped  bool
		start    int
	)
	for i, c := range inner {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			if depth--; depth < 0 {
				return nil, errSyntax
			}
		case c == ',' && depth == 0:
			out = append(out, bytes.TrimSpace(inner[start:i]))
			start = i + 1
		}
	}
	if inString || depth != 0 {
		return nil, errSyntax
	}
	out = append(out, bytes.TrimSpace(inner[start:]))
	for _, e := range out {
		if len(e) == 0 {
			return nil, errSyntax
		}
	}
	return out, nil
}
