package monologue

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The gateway validates every frame a client sends, so what it delivers is
// valid JSON: the scanner below only finds where values start and end (it
// never panics on bad input, and reports what it cannot follow), and leaves
// decoding to the few places that need it. It allocates nothing.

var errSyntax = errors.New("malformed JSON")

// serverFrame holds the raw fields of a frame from the gateway. String
// fields keep their quotes; all alias the frame's bytes.
type serverFrame struct {
	to, from, channel, action []byte
	payload                   []byte
	message                   []byte // the reply to a send frame
	id                        []byte
	errorObject               []byte // the value of "error", an object
}

func parseServerFrame(data []byte) (serverFrame, error) {
	var f serverFrame
	fields := scanObject(data)
	for key, value, ok := fields.next(); ok; key, value, ok = fields.next() {
		switch string(key) {
		case `"to"`:
			f.to = value
		case `"from"`:
			f.from = value
		case `"channel"`:
			f.channel = value
		case `"action"`:
			f.action = value
		case `"payload"`:
			f.payload = value
		case `"id"`:
			f.id = value
		case `"message"`:
			f.message = value
		case `"error"`:
			f.errorObject = value
		}
	}
	return f, fields.err
}

// rpcEnvelope holds the raw fields of an RPC payload
// {"type":T,"data":{"token":…,"name":…,"args":…,"ret":…,"error":…}}.
type rpcEnvelope struct {
	kind        byte // 'Q' for REQ, 'A' for ACK, 'E' for ERR
	token       []byte
	name        []byte
	args        []byte
	ret         []byte
	errorObject []byte
}

// parseRPC reports whether payload is an RPC envelope, and its fields.
func parseRPC(payload []byte) (rpcEnvelope, bool) {
	var env rpcEnvelope
	var data []byte
	fields := scanObject(payload)
	for key, value, ok := fields.next(); ok; key, value, ok = fields.next() {
		switch string(key) {
		case `"type"`:
			switch string(value) {
			case `"REQ"`:
				env.kind = 'Q'
			case `"ACK"`:
				env.kind = 'A'
			case `"ERR"`:
				env.kind = 'E'
			default:
				env.kind = 0
			}
		case `"data"`:
			data = value
		}
	}
	if fields.err != nil || env.kind == 0 || len(data) == 0 || data[0] != '{' {
		return env, false
	}
	fields = scanObject(data)
	for key, value, ok := fields.next(); ok; key, value, ok = fields.next() {
		switch string(key) {
		case `"token"`:
			env.token = value
		case `"name"`:
			env.name = value
		case `"args"`:
			env.args = value
		case `"ret"`:
			env.ret = value
		case `"error"`:
			env.errorObject = value
		}
	}
	return env, fields.err == nil && env.token != nil
}

// parseErrorObject returns the code and message of {"code":C,"message":M}.
func parseErrorObject(data []byte) (code, message string) {
	fields := scanObject(data)
	for key, value, ok := fields.next(); ok; key, value, ok = fields.next() {
		switch string(key) {
		case `"code"`:
			code = jsonString(value)
		case `"message"`:
			message = jsonString(value)
		}
	}
	return code, message
}

// objectScanner walks the members of a JSON object.
type objectScanner struct {
	data    []byte
	pos     int
	started bool
	done    bool
	err     error
}

func scanObject(data []byte) objectScanner {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return objectScanner{done: true, err: errSyntax}
	}
	return objectScanner{data: data, pos: i + 1}
}

// next returns the next member's key (with its quotes) and raw value.
func (s *objectScanner) next() (key, value []byte, ok bool) {
	if s.done {
		return nil, nil, false
	}
	b := s.data
	i := skipSpace(b, s.pos)
	if i < len(b) && b[i] == '}' {
		s.done = true
		return nil, nil, false
	}
	if s.started {
		if i >= len(b) || b[i] != ',' {
			return s.fail()
		}
		i = skipSpace(b, i+1)
	}
	s.started = true
	if i >= len(b) || b[i] != '"' {
		return s.fail()
	}
	end, err := skipString(b, i)
	if err != nil {
		return s.fail()
	}
	key = b[i:end]
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return s.fail()
	}
	i = skipSpace(b, i+1)
	end, err = skipValue(b, i)
	if err != nil {
		return s.fail()
	}
	s.pos = end
	return key, b[i:end], true
}

func (s *objectScanner) fail() ([]byte, []byte, bool) {
	s.done, s.err = true, errSyntax
	return nil, nil, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipString returns the index past the string literal starting at b[i].
func skipString(b []byte, i int) (int, error) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, nil
		case '\\':
			j++
		}
	}
	return len(b), errSyntax
}

// skipValue returns the index past the JSON value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return i, errSyntax
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return end, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return len(b), errSyntax
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\n', '\r', '\t':
			if j == i {
				return j, errSyntax
			}
			return j, nil
		}
		j++
	}
	if j == i {
		return j, errSyntax
	}
	return j, nil
}

// splitArray appends the elements of a JSON array to elements, aliasing data.
func splitArray(data []byte, elements []json.RawMessage) ([]json.RawMessage, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, errSyntax
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return elements, nil
	}
	for {
		end, err := skipValue(data, i)
		if err != nil {
			return nil, err
		}
		elements = append(elements, data[i:end:end])
		i = skipSpace(data, end)
		if i >= len(data) {
			return nil, errSyntax
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return elements, nil
		default:
			return nil, errSyntax
		}
	}
}

// plainString reports whether lit is a string literal with no escapes, so
// that its contents are lit[1:len(lit)-1].
func plainString(lit []byte) bool {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return false
	}
	inner := lit[1 : len(lit)-1]
	return bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner)
}

// jsonString decodes a string literal; anything else gives "".
func jsonString(lit []byte) string {
	if plainString(lit) {
		return string(lit[1 : len(lit)-1])
	}
	var s string
	if len(lit) > 0 && lit[0] == '"' {
		_ = json.Unmarshal(lit, &s)
	}
	return s
}

// parseToken reads a token we issued: a decimal number, possibly quoted (a
// peer may turn it into a string).
func parseToken(raw []byte) (uint64, bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	if len(raw) == 0 || len(raw) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}
