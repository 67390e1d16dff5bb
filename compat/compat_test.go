package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/internal/testlog"
)

// wsVersion is the ws package the models run on (pinned in js/package.json).
const wsVersion = "8.23.0"

// TestOriginalJSClient runs js/compat.test.mjs — behavioural models of both versions
// of the original JavaScript monologue client — against two gateways started here:
// one that requires an API key, and one that requires none.
func TestOriginalJSClient(t *testing.T) {
	node := requireTool(t, "node")
	npm := requireTool(t, "npm")
	jsDir, err := filepath.Abs("js")
	if err != nil {
		t.Fatal(err)
	}
	// Reading the scripts here also makes go test's result cache depend on them.
	for _, name := range []string{"package.json", "compat.test.mjs", "original-v1.mjs", "original-v2.mjs", "original-support.mjs"} {
		if _, err := os.ReadFile(filepath.Join(jsDir, name)); err != nil {
			t.Fatalf("compat script missing: %v", err)
		}
	}
	ensureWS(t, npm, jsDir)

	key := randomKey(t)
	var logs testlog.Buffer
	keyed := startGateway(t, gateway.Options{APIKeys: []string{key}}, &logs)
	open := startGateway(t, gateway.Options{}, &logs)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "compat.test.mjs")
	cmd.Dir = jsDir
	cmd.Env = append(cleanEnv(),
		"MONOLOGUE_ENDPOINT="+keyed,
		"MONOLOGUE_API_KEY="+key,
		"MONOLOGUE_OPEN_ENDPOINT="+open,
		"NO_COLOR=1",
		"FORCE_COLOR=0",
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test compat.test.mjs failed after %v (%v); the original client does not work against the gateway:\n%s\n--- gateway log ---\n%s",
			time.Since(start).Round(time.Millisecond), err, out, logs.String())
	}
	t.Logf("node --test compat.test.mjs passed in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
}

// requireTool finds name on PATH or fails the test: these tests never skip.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required to run the original JavaScript client's compatibility test, and was not found on PATH (%v); "+
			"install Node.js 20 or later with npm (e.g. apt-get install nodejs npm)", name, err)
	}
	return p
}

// cleanEnv is the environment without variables that rc, and so the original client,
// would read as its configuration (monologue_*, case-insensitively).
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(strings.ToLower(kv), "monologue_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// ensureWS installs ws into js/node_modules unless the pinned version is already there.
// A lock file keeps concurrent test processes from installing at the same time.
func ensureWS(t *testing.T, npm, jsDir string) {
	t.Helper()
	if installedWS(jsDir) == wsVersion {
		return
	}
	unlock := lockFile(t, filepath.Join(jsDir, ".npm-install.lock"))
	defer unlock()
	if installedWS(jsDir) == wsVersion {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--save-exact", "--no-package-lock",
		"--prefix", jsDir, "ws@"+wsVersion)
	cmd.Dir = jsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install ws@%s into %s failed (%v):\n%s", wsVersion, jsDir, err, out)
	}
	if got := installedWS(jsDir); got != wsVersion {
		t.Fatalf("after npm install, js/node_modules/ws is version %q, want %s", got, wsVersion)
	}
}

func installedWS(jsDir string) string {
	b, err := os.ReadFile(filepath.Join(jsDir, "node_modules", "ws", "package.json"))
	if err != nil {
		return ""
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if json.Unmarshal(b, &pkg) != nil {
		return ""
	}
	return pkg.Version
}

// lockFile takes an exclusive lock by creating path; a lock older than five minutes is
// taken to be left over from a killed process.
func lockFile(t *testing.T, path string) (unlock func()) {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			return func() { os.Remove(path) }
		}
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("lock %s: %v", path, err)
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > 5*time.Minute {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock %s: still held after 4 minutes", path)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func randomKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "compat" + hex.EncodeToString(b)
}

// startGateway serves a gateway on 127.0.0.1 and returns its WebSocket endpoint.
func startGateway(t *testing.T, opts gateway.Options, logs *testlog.Buffer) string {
	t.Helper()
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return gatewaytest.Start(t, opts).URL
}
