// Package testlog is the log sink of tests: a [Buffer] that slog handlers
// and child processes on many goroutines may write to at once, and that a
// test reads (String) when it fails or to check what was logged.
package testlog
