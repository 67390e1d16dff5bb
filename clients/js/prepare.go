package jsclient

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// Prepare makes the TypeScript client in dir (the clients/js directory)
// ready to run: it installs the npm packages pinned in package-lock.json
// with npm ci when node_modules does not match it, builds the client
// (dist/) and its tests (build/) with tsc, and copies the models of the
// original JavaScript client (compat/js) to build/compat, where they find
// the same ws package. An exclusive lock on dir/.npm-install.lock keeps
// processes from doing it at the same time. node and npm must be on PATH.
func Prepare(ctx context.Context, dir string) error {
	unlock, err := lock(dir)
	if err != nil {
		return err
	}
	defer unlock()
	lockFile, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return err
	}
	sum := sha256.Sum256(lockFile)
	stamp := filepath.Join(dir, "node_modules", ".monologue-lock-sha256")
	if got, _ := os.ReadFile(stamp); string(got) != hex.EncodeToString(sum[:]) {
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		// playwright-core downloads nothing by itself; say so anyway.
		cmd.Env = append(os.Environ(), "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, out)
		}
		if err := os.WriteFile(stamp, []byte(hex.EncodeToString(sum[:])), 0o644); err != nil {
			return err
		}
	}
	tsc := filepath.Join(dir, "node_modules", "typescript", "bin", "tsc")
	for _, project := range []string{"tsconfig.json", "tsconfig.test.json"} {
		cmd := exec.CommandContext(ctx, "node", tsc, "-p", project)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("tsc -p %s: %w\n%s", project, err, out)
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
