package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/monologue-go/monologue/bench/peers"
	"github.com/monologue-go/monologue/bench/procfs"
)

// serverCore is the core the servers are pinned to; the load generator
// takes loadCore.
const (
	serverCore = 0
	loadCore   = 1
)

// startTimeout bounds how long a peer server may take to print its Ready
// line.
const startTimeout = 30 * time.Second

// server is a peer's server running as a child process.
type server struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  peers.Ready
	pinned bool
	stderr *tail
	exited chan struct{}
	err    error // valid once exited is closed
	// signal, when not nil, is sent as soon as stop begins: for servers
	// that do not end at the end of their stdin ("monologue serve",
	// redis-server).
	signal os.Signal
}

// startServer starts peer name's server as a child process, with args
// after its command line, pinned to serverCore when opts.Pin is set and
// taskset exists, and waits for its Ready line.
func startServer(ctx context.Context, name, apiKey string, opts *Options, args ...string) (*server, error) {
	cmd, err := opts.serverCommand(ctx, name, apiKey)
	if err != nil {
		return nil, err
	}
	cmd.Args = append(cmd.Args, args...)
	return launch(ctx, name, cmd, opts, true, nil)
}

// launch starts cmd as a server child process named name: pinned to
// serverCore when opts.Pin is set and taskset exists, its stderr's tail
// kept for errors, terminated should this process die. When announces is
// set it waits for the Ready line (or "listening ws://…") on its stdout;
// otherwise it returns once the process has started. stopSignal, when not
// nil, is what stops it (see server.signal).
func launch(ctx context.Context, name string, cmd *exec.Cmd, opts *Options, announces bool, stopSignal os.Signal) (*server, error) {
	s := &server{name: name, stderr: &tail{}, exited: make(chan struct{}), signal: stopSignal}
	if opts.Pin && procfs.HaveTaskset() {
		args := append([]string{"-c", fmt.Sprint(serverCore), cmd.Path}, cmd.Args[1:]...)
		pinned := exec.Command("taskset", args...)
		pinned.Env, pinned.Dir = cmd.Env, cmd.Dir
		cmd, s.pinned = pinned, true
	}
	// A child that does not watch its stdin still ends with the harness.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stderr = s.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.cmd = cmd
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if announces && sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if !announces {
		return s, nil
	}
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	var line string
	select {
	case line = <-lines:
	case <-timer.C:
	case <-ctx.Done():
	}
	if err := s.parseReady(line); err != nil {
		s.stop()
		return nil, fmt.Errorf("start %s: %w (stderr: %s)", name, err, s.stderr)
	}
	return s, nil
}

// parseReady reads a peers.Ready line, or the "listening ws://…" line of
// "monologue serve".
func (s *server) parseReady(line string) error {
	if rest, ok := strings.CutPrefix(line, "listening "); ok {
		s.ready.URL = strings.Fields(rest)[0]
		return nil
	}
	if line == "" {
		return errors.New("no ready line")
	}
	if err := json.Unmarshal([]byte(line), &s.ready); err != nil || s.ready.URL == "" {
		return fmt.Errorf("bad ready line %q", line)
	}
	return nil
}

// pid is the server's process ID (taskset execs the server in place).
func (s *server) pid() int { return s.cmd.Process.Pid }

func (s *server) cpu() (time.Duration, error) { return procfs.CPUTime(s.pid()) }

func (s *server) rss() (int64, error) { return procfs.RSS(s.pid()) }

// heap asks the admin listener for the heap in use after a GC; ok is false
// when the server has no admin listener.
func (s *server) heap(ctx context.Context) (h peers.Heap, ok bool, err error) {
	if s.ready.Admin == "" {
		return h, false, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.ready.Admin+"/heap", nil)
	if err != nil {
		return h, false, fmt.Errorf("heap of %s: %w", s.name, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, false, fmt.Errorf("heap of %s: %w", s.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return h, false, fmt.Errorf("heap of %s: %s", s.name, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return h, false, fmt.Errorf("heap of %s: %w", s.name, err)
	}
	return h, true, nil
}

// alive reports an error when the server has exited.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%s server exited: %v (stderr: %s)", s.name, s.err, s.stderr)
	default:
		return nil
	}
}

// stop closes the server's stdin (it exits at EOF) and sends it its stop
// signal if it has one, then interrupts it, then kills it.
func (s *server) stop() {
	_ = s.stdin.Close()
	for _, step := range []func(){
		func() {
			if s.signal != nil {
				_ = s.cmd.Process.Signal(s.signal)
			}
		},
		func() { _ = s.cmd.Process.Signal(os.Interrupt) },
		func() { _ = s.cmd.Process.Kill() },
	} {
		step()
		select {
		case <-s.exited:
			return
		case <-time.After(3 * time.Second):
		}
	}
	<-s.exited
}

// tail keeps the last 2 KiB written to it: a child's stderr, for errors.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 2048; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}

// serverCommand returns the command that starts peer name's server.
func (o *Options) serverCommand(ctx context.Context, name, apiKey string) (*exec.Cmd, error) {
	name = serverOf(name)
	if name != "socketio" {
		if o.PeerCommand == nil {
			return nil, errors.New("no PeerCommand to start Go peers with")
		}
		return o.PeerCommand(name, apiKey), nil
	}
	dir, err := o.jsDir()
	if err != nil {
		return nil, err
	}
	if err := npmInstall(ctx, dir); err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("socketio peer needs node: %w", err)
	}
	return exec.Command(node, "--expose-gc", filepath.Join(dir, "server.js")), nil
}

// jsDir finds the Socket.IO server: Options.JSDir, else bench/js in the
// working directory or one of its parents, else js (from inside bench/).
func (o *Options) jsDir() (string, error) {
	if o.JSDir != "" {
		return o.JSDir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find bench/js: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, rel := range []string{"bench/js", "js"} {
			candidate := filepath.Join(dir, rel)
			if _, err := os.Stat(filepath.Join(candidate, "server.js")); err == nil {
				return candidate, nil
			}
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find bench/js/server.js from %s: not found (set --js-dir)", wd)
		}
	}
}

var npmMu sync.Mutex

// npmInstall installs the Socket.IO server's pinned packages (package.json
// and its lock file) when one of them is missing from node_modules.
func npmInstall(ctx context.Context, dir string) error {
	npmMu.Lock()
	defer npmMu.Unlock()
	complete, err := npmComplete(dir)
	if err != nil || complete {
		return err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return fmt.Errorf("socketio peer needs npm: %w", err)
	}
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--prefix", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm install in %s: %w: %s", dir, err, out)
	}
	return nil
}

// npmComplete reports whether every dependency in dir's package.json is in
// its node_modules.
func npmComplete(dir string) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return false, fmt.Errorf("socketio peer: %w", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(data, &pkg); err != nil {
		return false, fmt.Errorf("socketio peer: %s: %w", filepath.Join(dir, "package.json"), err)
	}
	for name := range pkg.Dependencies {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", name, "package.json")); err != nil {
			return false, nil
		}
	}
	return true, nil
}
