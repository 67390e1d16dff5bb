package bench

import (
	"bytes"
	"strconv"
	"strings"
)

// The payloads are printable ASCII with nothing to escape in JSON, so that
// every peer carries exactly S bytes and the load generator's glue needs no
// JSON encoder. Each starts with a token that makes it unique, so an answer
// that belongs to another call (or another message) never verifies.

// padding returns the filler of payloads of size bytes.
func padding(size int) string { return strings.Repeat("x", size) }

// rpcArg returns the argument of the call with the given token: "t", the
// token, ":", then padding up to len(pad) bytes (longer when the token does
// not fit).
func rpcArg(token uint64, pad string) string {
	b := make([]byte, 0, max(len(pad), 24))
	b = append(b, 't')
	b = strconv.AppendUint(b, token, 10)
	b = append(b, ':')
	if len(b) < len(pad) {
		b = append(b, pad[len(b):]...)
	}
	return string(b)
}

// fanoutPayload returns message seq of a fan-out, sent at sent (ns since
// the scenario's epoch): "f", seq, ":", sent, ":", then padding.
func fanoutPayload(seq uint64, sent int64, pad string) string {
	b := make([]byte, 0, max(len(pad), 40))
	b = append(b, 'f')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ':')
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, ':')
	if len(b) < len(pad) {
		b = append(b, pad[len(b):]...)
	}
	return string(b)
}

// parseFanout checks a received fan-out payload against the format of
// fanoutPayload and returns its sequence number and send time.
func parseFanout(p []byte, pad string) (seq uint64, sent int64, ok bool) {
	if len(p) < 4 || p[0] != 'f' {
		return 0, 0, false
	}
	rest := p[1:]
	i := bytes.IndexByte(rest, ':')
	if i <= 0 {
		return 0, 0, false
	}
	seq, err := strconv.ParseUint(string(rest[:i]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	rest = rest[i+1:]
	j := bytes.IndexByte(rest, ':')
	if j <= 0 {
		return 0, 0, false
	}
	sent, err = strconv.ParseInt(string(rest[:j]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	head := len(p) - len(rest) + j + 1
	want := max(len(pad), head)
	if len(p) != want || string(p[head:]) != pad[min(head, len(pad)):] {
		return 0, 0, false
	}
	return seq, sent, true
}
