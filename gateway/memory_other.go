//go:build !linux

package gateway

// usableMemory is unknown here: the default MaxQueuedBytes is then
// fallbackMaxQueuedBytes.
func usableMemory() uint64 { return 0 }
