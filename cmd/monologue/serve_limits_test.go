package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

func TestParseSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
	}{
		{"0", 0}, {"131072", 131072}, {"128KiB", 128 << 10}, {"128kib", 128 << 10}, {"128K", 128 << 10},
		{"256MiB", 256 << 20}, {"256 MiB", 256 << 20}, {"1.5GiB", 3 << 29}, {"2G", 2 << 30}, {"1TiB", 1 << 40},
		{"512MB", 512e6}, {"1kB", 1000}, {"10B", 10}, {"none", -1}, {"-1", -1}, {"-5MiB", -1},
	} {
		if got, err := parseSize(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{"", "MiB", "12XB", "1.2.3", "abc", "9999999TiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	for _, n := range []int64{0, 1, 1000, 128 << 10, 3 << 29, 1 << 40, -1} {
		if back, err := parseSize(formatSize(n)); err != nil || back != n {
			t.Errorf("parseSize(formatSize(%d) = %q) = %d, %v", n, formatSize(n), back, err)
		}
	}
}

// TestLimitFlags: each flag of the limits that protect the server reaches
// the gateway's Options, and their defaults are the gateway's.
func TestLimitFlags(t *testing.T) {
	cfg, err := parseServeFlags(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defaults := cfg.limits.apply(gateway.Options{})
	if defaults.MaxConnections != 0 || defaults.MaxConnectionsPerIP != 0 || defaults.MaxConnectionsPerKey != 0 ||
		defaults.MaxQueuedBytes != 0 || defaults.FrameTimeout != gateway.DefaultFrameTimeout ||
		defaults.HTTPReadTimeout != gateway.DefaultHTTPReadTimeout || cfg.limits.shutdownTimeout != defaultShutdownTimeout ||
		cfg.maxMessageSize != gateway.DefaultMaxMessageSize {
		t.Errorf("defaults: %+v, message size %d, shutdown timeout %v", defaults, cfg.maxMessageSize, cfg.limits.shutdownTimeout)
	}

	cfg, err = parseServeFlags([]string{"--max-connections", "500", "--max-connections-per-ip", "20", "--max-connections-per-key", "100",
		"--max-queued-bytes", "256MiB", "--frame-timeout", "0", "--http-read-timeout", "3s", "--shutdown-timeout", "2s",
		"--max-message-size", "64KiB"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.limits.apply(gateway.Options{})
	if opts.MaxConnections != 500 || opts.MaxConnectionsPerIP != 20 || opts.MaxConnectionsPerKey != 100 ||
		opts.MaxQueuedBytes != 256<<20 || opts.FrameTimeout >= 0 || opts.HTTPReadTimeout != 3*time.Second ||
		cfg.limits.shutdownTimeout != 2*time.Second || cfg.maxMessageSize != 64<<10 {
		t.Errorf("from flags: %+v, message size %d, shutdown timeout %v", opts, cfg.maxMessageSize, cfg.limits.shutdownTimeout)
	}
	if cfg, err := parseServeFlags([]string{"--max-queued-bytes", "none"}, func(string) string { return "" }, io.Discard); err != nil || cfg.limits.maxQueuedBytes != -1 {
		t.Errorf("--max-queued-bytes none: %d, %v", cfg.limits.maxQueuedBytes, err)
	}
	for _, bad := range [][]string{
		{"--max-connections-per-ip", "-1"}, {"--frame-timeout", "-1s"}, {"--shutdown-timeout", "0"},
		{"--max-queued-bytes", "lots"}, {"--max-message-size", "none"},
	} {
		if _, err := parseServeFlags(bad, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestServeConnectionCapFlag: --max-connections-per-ip reaches the running
// gateway: a second connection from the same address is refused with 429.
func TestServeConnectionCapFlag(t *testing.T) {
	lines, stop := startServe(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--api-key", "k",
		"--log-level", "error", "--max-connections-per-ip", "1")
	endpoint := lines["listening"]
	first, _, err := websocket.DefaultDialer.Dial(endpoint, http.Header{"X-Api-Key": {"k"}})
	if err != nil {
		t.Fatal(err)
	}
	second, resp, err := websocket.DefaultDialer.Dial(endpoint, http.Header{"X-Api-Key": {"k"}})
	if err == nil {
		second.Close()
		t.Error("a second connection from the same address was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second connection: %v (%v), want HTTP 429", err, resp)
	}
	first.Close()
	if err := stop(); err != nil {
		t.Fatalf("runServe: %v", err)
	}
}
