package jsclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestTypeScriptClient builds the client and runs its unit tests, its tests
// against a real gateway (every API, errors, timeouts, reconnection, 1,000
// concurrent calls, chunked messages), and its interoperability tests with
// the Go client and the models of the original JavaScript client.
func TestTypeScriptClient(t *testing.T) {
	h := start(t)
	h.node(t, "build/unit.test.js", "build/gateway.test.js", "build/chunks.test.js", "build/reconnect.test.js", "build/interop.test.js")
}

// TestBrowser runs the client in Debian's Chromium, headless, against the
// gateway: a page served here uses it and reports each scenario's result.
// Without Chromium it fails under CI=true and is skipped otherwise.
func TestBrowser(t *testing.T) {
	chromium := "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is required for the browser test under CI and is missing (%v): scripts/test-deps.sh installs it with apt", err)
		}
		t.Skipf("no Chromium at %s (scripts/test-deps.sh installs it); skipped outside CI", chromium)
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
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	buildOnce.Do(func() { buildErr = build(node, npm, dir) })
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

// build installs the pinned npm packages when node_modules does not match
// package-lock.json, builds the client (dist/) and its tests (build/), and
// copies the models of the original client next to the tests, where they
// find the same ws package. A lock keeps test processes from doing it at
// the same time.
func build(node, npm, dir string) error {
	unlock, err := lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lockFile, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(lockFile)
	stamp := filepath.Join(dir, "node_modules", ".monologue-lock-sha256")
	if got, _ := os.ReadFile(stamp); string(got) != hex.EncodeToString(sum[:]) {
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1", "PUPPETEER_SKIP_DOWNLOAD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
		if err := os.WriteFile(stamp, []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
			return err
		}
	}
	tsc := filepath.Join(dir, "node_modules", "typescript", "bin", "tsc")
	for _, project := range []string{"tsconfig.json", "tsconfig.test.json"} {
		cmd := exec.CommandContext(ctx, node, tsc, "-p", project)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("tsc -p %s: %v\n%s", project, err, out)
		}
	}
	compat := filepath.Join(dir, "build", "compat")
	if err := os.MkdirAll(compat, 0o755); err != nil {
		return err
	}
	for _, name := range []string{"original-v2.mjs", "original-support.mjs"} {
		b, err := os.ReadFile(filepath.Join(dir, "..", "..", "compat", "js", name))
		if err != nil {
			return fmt.Errorf("the models of the original client: %w", err)
		}
		if err := os.WriteFile(filepath.Join(compat, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// lock takes an exclusive lock on dir's installation and build.
func lock(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".npm-install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
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
