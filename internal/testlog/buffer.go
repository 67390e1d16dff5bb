package testlog

import (
	"bytes"
	"sync"
)

// Buffer is an io.Writer, safe for concurrent use, that keeps what is
// written to it. The zero value is an empty Buffer that keeps everything.
type Buffer struct {
	// Max bounds what is kept: once the Buffer holds more than Max bytes,
	// later writes are dropped (and reported written, so that the writer
	// carries on). Zero: no bound.
	Max int

	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p, unless the Buffer is over Max; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Max > 0 && b.buf.Len() > b.Max {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns everything kept so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
