//go:build !unix

package gateway

// defaultMaxConnections is a fixed cap where the file limit cannot be read.
func defaultMaxConnections() int { return fallbackMaxConnections }
