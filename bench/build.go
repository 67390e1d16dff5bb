package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// modulePath is the module whose monologue command BuildMonologue builds.
const modulePath = "github.com/monologue-go/monologue"

// BuildMonologue builds the monologue command (cmd/monologue) with the go
// command, from the module that holds the working directory, into dir, and
// returns the binary's path: the monologue nodes of runs on nodes are its
// serve, as users run it. Without the go command or the module's source it
// fails; pass a built binary as Options.MonologueBinary instead.
func BuildMonologue(ctx context.Context, dir string) (string, error) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("build cmd/monologue: %w", err)
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("build cmd/monologue: %w", err)
	}
	out := filepath.Join(dir, "monologue")
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", out, "./cmd/monologue")
	cmd.Dir = root
	if output, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build cmd/monologue in %s: %w: %s", root, err, output)
	}
	return out, nil
}

// moduleRoot finds the directory of modulePath's go.mod from the working
// directory up.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of %s in %s or above", modulePath, wd)
		}
	}
}

// isModule reports whether the go.mod at path declares modulePath.
func isModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == modulePath
		}
	}
	return false
}

// errNoMonologueBinary is the error of a run on monologue nodes without
// the monologue command.
var errNoMonologueBinary = errors.New("monologue on nodes needs the monologue command (Options.MonologueBinary; monologue-bench --monologue-bin, or it builds one)")
