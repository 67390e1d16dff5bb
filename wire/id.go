package wire

import (
	"crypto/rand"
	"encoding/base64"
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
