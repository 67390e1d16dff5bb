package gateway

import "testing"

// TestDefaultMaxQueuedBytes: the default bound on all send queues together
// is a quarter of the memory the process may use.
func TestDefaultMaxQueuedBytes(t *testing.T) {
	memory := usableMemory()
	got := defaultMaxQueuedBytes()
	if memory == 0 {
		t.Fatalf("usable memory unknown on this machine; default %d", got)
	}
	if got != int64(memory/4) {
		t.Fatalf("default max queued bytes %d with %d bytes of memory, want a quarter", got, memory)
	}
	if o := (Options{}).withDefaults(); o.MaxQueuedBytes != got {
		t.Fatalf("Options{} has MaxQueuedBytes %d, want %d", o.MaxQueuedBytes, got)
	}
	if o := (Options{MaxQueuedBytes: -1}).withDefaults(); o.MaxQueuedBytes != -1 {
		t.Fatalf("Options{MaxQueuedBytes: -1} became %d, want -1 (no limit)", o.MaxQueuedBytes)
	}
}
