package jsclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTypeScriptClient builds the client and runs its unit tests, its tests
// against a real gateway (every API, errors, timeouts, reconnection, 1,000
// concurrent calls, chunked messages, names, service groups and presence),
// and its interoperability tests with the Go client and the models of the
// original JavaScript client.
func TestTypeScriptClient(t *testing.T) {
	h := start(t)
	h.node(t, "build/unit.test.js", "build/gateway.test.js", "build/chunks.test.js", "build/names.test.js", "build/reconnect.test.js", "build/interop.test.js")
}

// TestBrowser runs the client in Debian's Chromium, headless, against the
// gateway: a page served here uses it and reports each scenario's result.
// Without Chromium it fails: `make test` installs it (scripts/test-deps.sh).
func TestBrowser(t *testing.T) {
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("Chromium is required for the browser test and is missing (%v): scripts/test-deps.sh installs it with apt", err)
	}
	h := start(t)
	h.env = append(h.env, "TEST_CHROMIUM="+chromium)
	h.node(t, "build/browser.test.js")
}

// harness is what a test starts for node: gateways, the Go peer, the
// control server, and the environment that tells node where they are.
type harness struct {
	dir  string // clients/js
	env  []string
	logs *syncBuffer
}

var (
	buildOnce sync.Once
	buildErr  error
)

func start(t *testing.T) *harness {
	t.Helper()
	requireTool(t, "node")
	requireTool(t, "npm")
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		buildErr = Prepare(ctx, dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}

	h := &harness{dir: dir, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	key := randomKey(t)
	main := gatewaytest.Start(t, gateway.Options{APIKeys: []string{key}, Logger: logger})
	restart := newRestartable(t, logger)
	restart.start(t, key)
	peer := startPeer(t, main.URL, key)
	control := startControl(t, peer, restart)
	h.env = append(cleanEnv(),
		"TEST_ENDPOINT="+main.URL,
		"TEST_API_KEY="+key,
		"TEST_ADMIN_URL="+main.AdminURL,
		"TEST_PUBLIC_URL="+main.PublicURL,
		"TEST_GO_PEER="+peer.client.ID(),
		"TEST_GO_PEER_NAME="+goPeerName,
		"TEST_CONTROL_URL="+control,
		"TEST_RESTART_ENDPOINT="+restart.url(),
		"TEST_COMPAT_DIR="+filepath.Join(dir, "build", "compat"),
		"NO_COLOR=1",
		"FORCE_COLOR=0",
	)
	return h
}

// node runs node --test on files and fails with its report.
func (h *harness) node(t *testing.T, files ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{"--test", "--test-reporter=spec"}, files...)...)
	cmd.Dir = h.dir
	cmd.Env = h.env
	started := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(started).Round(time.Millisecond)
	if err != nil {
		t.Fatalf("node --test %s failed after %v (%v):\n%s\n--- gateway log (last 20000 bytes) ---\n%s",
			strings.Join(files, " "), took, err, out, tail(h.logs.String(), 20000))
	}
	t.Logf("node --test %s passed in %v:\n%s", strings.Join(files, " "), took, out)
}

// requireTool finds name on PATH or fails the test: node and npm are
// required, never skipped.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required to test the TypeScript client and was not found on PATH (%v): install Node.js 20 or later with npm (scripts/test-deps.sh)", name, err)
	}
	return p
}

// cleanEnv is the environment without MONOLOGUE_* variables (which the
// client and the original client's model would read as configuration).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(strings.ToLower(kv), "monologue_") {
			env = append(env, kv)
		}
	}
	return env
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "ts" + hex.EncodeToString(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// syncBuffer collects the gateways' logs, shown when a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

var _ io.Writer = (*syncBuffer)(nil)

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
