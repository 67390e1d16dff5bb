package main

import (
	"net"
	"os"
	"strings"
	"testing"
)

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestServeKeepsClientConfig: serve without --api-key reuses the key of a
// .monologuerc that points at it, so that clients keep working across
// restarts, and never overwrites one that points elsewhere (AWS, another
// server); it says which it did.
func TestServeKeepsClientConfig(t *testing.T) {
	t.Chdir(t.TempDir())
	addr := freePort(t)
	args := []string{"--addr", addr, "--admin-addr", "127.0.0.1:0", "--log-level", "warn"}

	lines, stop := startServe(t, args...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	first := strings.TrimPrefix(lines["api"], "key ")
	written, err := os.ReadFile(rcFile)
	if err != nil || !strings.Contains(string(written), "apiKey="+first) {
		t.Fatalf("first run: %s %v (key %s)", written, err, first)
	}
	if lines["generated"] != "the key and wrote "+rcFile {
		t.Errorf("first run said %q", lines["generated"])
	}

	lines, stop = startServe(t, args...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if key := strings.TrimPrefix(lines["api"], "key "); key != first {
		t.Errorf("second run: key %s, want the file's %s", key, first)
	}
	if !strings.HasPrefix(lines["reused"], "the API key of "+rcFile) {
		t.Errorf("second run said %q", lines)
	}

	aws := "[opts]\nendpoint=wss://abc123.execute-api.eu-west-1.amazonaws.com/latest\napiKey=aws-key\n"
	if err := os.WriteFile(rcFile, []byte(aws), 0o600); err != nil {
		t.Fatal(err)
	}
	lines, stop = startServe(t, args...)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if key := strings.TrimPrefix(lines["api"], "key "); key == "aws-key" || key == first || key == "" {
		t.Errorf("with AWS's file: key %q", key)
	}
	if kept, _ := os.ReadFile(rcFile); string(kept) != aws {
		t.Errorf("AWS's file was changed: %q", kept)
	}
	if msg := lines["generated"]; !strings.Contains(msg, "left "+rcFile+" alone: it points at wss://abc123") || !strings.Contains(msg, "--api-key") {
		t.Errorf("with AWS's file, serve said %q", msg)
	}
}

func TestSameServer(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"ws://127.0.0.1:8080/", "ws://127.0.0.1:8080/", true},
		{"ws://localhost:8080", "ws://127.0.0.1:8080/", true},
		{"http://127.0.0.1:8080/latest", "ws://127.0.0.1:8080/", true},
		{"ws://[::1]:8080/", "ws://127.0.0.1:8080/", true},
		{"ws://127.0.0.1:8081/", "ws://127.0.0.1:8080/", false},
		{"wss://127.0.0.1:8080/", "ws://127.0.0.1:8080/", false},
		{"wss://abc.execute-api.eu-west-1.amazonaws.com/latest", "ws://127.0.0.1:8080/", false},
		{"ws://10.0.0.2:8080/", "ws://127.0.0.1:8080/", false},
		{"", "ws://127.0.0.1:8080/", false},
		{"127.0.0.1:8080", "ws://127.0.0.1:8080/", false},
	} {
		if got := sameServer(tc.a, tc.b); got != tc.want {
			t.Errorf("sameServer(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
