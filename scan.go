package monologue

import (
	"encoding/json"
	"errors"

	"github.com/monologue-go/monologue/wire"
)

// Frames are read with wire's trusted ObjectReader: the gateway validated
// every frame a client sent, so what it delivers is valid JSON, and the
// reader only finds where values start and end (it never panics on bad
// input, and reports what it cannot follow). Decoding is left to the few
// places that need it. It allocates nothing.

var errSyntax = errors.New("malformed JSON")

// serverFrame holds the raw fields of a frame from the gateway. String
// fields keep their quotes; all alias the frame's bytes.
type serverFrame struct {
	to, from, channel, action []byte
	payload                   []byte
	message                   []byte // the reply to a send frame
	id                        []byte
	errorObject               []byte // the value of "error", an object
	name, via, joined, left   []byte // names and presence
}

func parseServerFrame(data []byte) (serverFrame, error) {
	var f serverFrame
	fields := wire.NewTrustedObjectReader(data)
	for key, value, ok := fields.Next(); ok; key, value, ok = fields.Next() {
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
		case `"name"`:
			f.name = value
		case `"via"`:
			f.via = value
		case `"joined"`:
			f.joined = value
		case `"left"`:
			f.left = value
		}
	}
	return f, fields.Err()
}

// rpcEnvelope holds the raw fields of an RPC payload
// {"type":T,"data":{"token":…,"name":…,"args":…,"ret":…,"error":…}}.
type rpcEnvelope struct {
	kind        byte // 'Q' for REQ, 'A' for ACK, 'E' for ERR; chunking: 'C', 'K', 'X', 'Z' (see chunkKinds)
	token       []byte
	name        []byte
	args        []byte
	ret         []byte
	errorObject []byte
	seq         []byte // chunking fields
	received    []byte
	chunk       []byte
}

// chunkKinds maps the payload types of chunked transfers to their kinds.
var chunkKinds = map[string]byte{`"CHUNK"`: 'C', `"CHUNK_ACK"`: 'K', `"CHUNK_ERR"`: 'X', `"CHUNK_CANCEL"`: 'Z'}

// parseRPC reports whether payload is an RPC envelope, and its fields.
func parseRPC(payload []byte) (rpcEnvelope, bool) {
	var env rpcEnvelope
	var data []byte
	fields := wire.NewTrustedObjectReader(payload)
	for key, value, ok := fields.Next(); ok; key, value, ok = fields.Next() {
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
				env.kind = chunkKinds[string(value)]
			}
		case `"data"`:
			data = value
		}
	}
	if fields.Err() != nil || env.kind == 0 || len(data) == 0 || data[0] != '{' {
		return env, false
	}
	fields = wire.NewTrustedObjectReader(data)
	for key, value, ok := fields.Next(); ok; key, value, ok = fields.Next() {
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
		case `"seq"`:
			env.seq = value
		case `"received"`:
			env.received = value
		case `"data"`:
			env.chunk = value
		}
	}
	return env, fields.Err() == nil && env.token != nil
}

// parseErrorObject returns the code and message of {"code":C,"message":M}.
func parseErrorObject(data []byte) (code, message string) {
	fields := wire.NewTrustedObjectReader(data)
	for key, value, ok := fields.Next(); ok; key, value, ok = fields.Next() {
		switch string(key) {
		case `"code"`:
			code = jsonString(value)
		case `"message"`:
			message = jsonString(value)
		}
	}
	return code, message
}

// splitArray appends the elements of a JSON array to elements, aliasing data.
func splitArray(data []byte, elements []json.RawMessage) ([]json.RawMessage, error) {
	i := wire.SkipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, errSyntax
	}
	i = wire.SkipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return elements, nil
	}
	for {
		end, err := wire.SkipTrusted(data, i)
		if err != nil {
			return nil, err
		}
		elements = append(elements, data[i:end:end])
		i = wire.SkipSpace(data, end)
		if i >= len(data) {
			return nil, errSyntax
		}
		switch data[i] {
		case ',':
			i = wire.SkipSpace(data, i+1)
		case ']':
			return elements, nil
		default:
			return nil, errSyntax
		}
	}
}

// plainString reports whether lit is a string literal with no escapes, so
// that its contents are lit[1:len(lit)-1].
func plainString(lit []byte) bool { return wire.PlainString(lit) }

// jsonString decodes a string literal; anything else gives "".
func jsonString(lit []byte) string {
	s, _ := wire.Unquote(lit)
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
