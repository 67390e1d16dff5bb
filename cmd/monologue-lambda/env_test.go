package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestBuildFanoutEnvironment: MONOLOGUE_QUEUE_URL turns the queued fan-out
// and its worker on; its numbers are checked.
func TestBuildFanoutEnvironment(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("MONOLOGUE_TABLE", "channels")
	d, err := build(quiet)
	if err != nil || d.Worker != nil {
		t.Fatalf("without a queue: worker %v, err %v; want none", d.Worker, err)
	}
	t.Setenv("MONOLOGUE_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/monologue-fanout")
	t.Setenv("MONOLOGUE_FANOUT_INLINE_MAX", "0")
	t.Setenv("MONOLOGUE_CALLBACK_BUDGET", "5000")
	t.Setenv("MONOLOGUE_WORKER_CONCURRENCY", "10")
	if d, err = build(quiet); err != nil || d.Worker == nil {
		t.Fatalf("with a queue: worker %v, err %v; want one", d.Worker, err)
	}
	for _, name := range []string{"MONOLOGUE_CALLBACK_BUDGET", "MONOLOGUE_WORKER_CONCURRENCY", "MONOLOGUE_FANOUT_INLINE_MAX"} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, "-1")
			if _, err := build(quiet); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=-1: err %v, want one naming it", name, err)
			}
		})
	}
}
