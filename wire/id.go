package wire

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// idBytes is the number of random bytes in a connection ID: 88 bits, which
// base64-encode to 16 characters ending in "=", the shape of API Gateway's IDs.
const idBytes = 11

// NewConnectionID returns a new, unguessable connection ID such as
// "AtuLLemUPHcCItg=". IDs are random (88 bits from crypto/rand), so they are
// never reused in practice, across restarts and across cluster nodes alike.
func NewConnectionID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return base64.StdEncoding.EncodeToString(b[:])
}

// NodeTag names one node of a cluster inside the IDs of its connections,
// so that a message for a connection goes straight to the node that holds
// it, with no lookup.
type NodeTag [3]byte

// NewNodeTag returns a random tag, for a node that starts.
func NewNodeTag() NodeTag {
	var t NodeTag
	_, _ = rand.Read(t[:])
	return t
}

// NewConnectionIDOn returns a new connection ID of the node tagged t: the
// tag's 3 bytes then 8 random ones (64 bits from crypto/rand), base64
// encoded to the same 16 characters ending in "=" as [NewConnectionID].
// The random part keeps IDs unguessable and, with a tag drawn anew at each
// start, never reused.
func NewConnectionIDOn(t NodeTag) string {
	var b [idBytes]byte
	copy(b[:], t[:])
	_, _ = rand.Read(b[len(t):])
	return base64.StdEncoding.EncodeToString(b[:])
}

// Prefix returns the first 4 characters that every connection ID of t
// starts with (3 bytes encode to exactly 4 base64 characters).
func (t NodeTag) Prefix() string { return base64.StdEncoding.EncodeToString(t[:]) }

// String returns t as 6 hex digits, a token safe in NATS subjects.
func (t NodeTag) String() string { return hex.EncodeToString(t[:]) }

// ParseNodeTag parses the 6 hex digits of [NodeTag.String].
func ParseNodeTag(s string) (NodeTag, bool) {
	var t NodeTag
	if len(s) != 2*len(t) {
		return t, false
	}
	_, err := hex.Decode(t[:], []byte(s))
	return t, err == nil
}

// TagOf returns the node tag of a connection ID made by
// [NewConnectionIDOn]; ok is false when id cannot be one.
func TagOf(id string) (t NodeTag, ok bool) {
	if len(id) != 16 {
		return t, false
	}
	n, err := base64.StdEncoding.Decode(t[:], []byte(id[:4]))
	return t, err == nil && n == len(t)
}
