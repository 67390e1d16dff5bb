package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

const cliTestKey = "cli-test-key"

// startCLIGateway runs a gateway on 127.0.0.1, port 0, and returns the
// common flags that reach it.
func startCLIGateway(t *testing.T) []string {
	t.Helper()
	srv := gatewaytest.Start(t, gateway.Options{APIKeys: []string{cliTestKey}, Logger: slog.New(slog.DiscardHandler)})
	return []string{"--endpoint", srv.URL, "--api-key", cliTestKey, "--timeout", "5s"}
}

// background runs a long-running command (listen, subscribe); its output
// lines arrive on channels, so the command never waits for the test.
type background struct {
	stdout, stderr chan string
	stop           func() error
}

func runBackground(t *testing.T, run func(context.Context, []string, io.Writer, io.Writer) error, args []string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: make(chan string, 100), stderr: make(chan string, 100)}
	stdout, stdoutDone := linePipe(b.stdout)
	stderr, stderrDone := linePipe(b.stderr)
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, stdout, stderr)
		stdout.Close()
		stderr.Close()
		<-stdoutDone
		<-stderrDone
		done <- err
	}()
	b.stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Error("command did not stop")
			return nil
		}
	})
	t.Cleanup(func() { b.stop() })
	return b
}

// linePipe returns a writer whose lines go to lines (dropped when full).
func linePipe(lines chan<- string) (*io.PipeWriter, <-chan struct{}) {
	reader, writer := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		scanner := bufio.NewScanner(reader)
		for scanner.Scan() {
			select {
			case lines <- scanner.Text():
			default:
			}
		}
	}()
	return writer, done
}

// readLine waits for a line.
func readLine(t *testing.T, lines <-chan string, what string) string {
	t.Helper()
	select {
	case line := <-lines:
		return line
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return ""
	}
}

// runOnce runs a short command and returns its output.
func runOnce(run func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := run(ctx, args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestListenCallSend(t *testing.T) {
	flags := startCLIGateway(t)
	listen := runBackground(t, runListen, flags)
	id := readLine(t, listen.stdout, "the ID")
	if len(id) < 16 || strings.ContainsAny(id, " {") {
		t.Fatalf("first line %q is not an ID", id)
	}
	with := func(args ...string) []string { return append(append([]string{}, flags...), args...) }

	tests := []struct {
		args       []string
		want, line string
	}{
		{args: []string{`"hello"`}, want: `"hello"`, line: `{"from":"*","method":"echo","args":["hello"]}`},
		{args: []string{"42", "true", "null", `{"a": [1, 2]}`, `"42"`, `"two words"`, "-1"},
			want: `[42,true,null,{"a":[1,2]},"42","two words",-1]`,
			line: `{"from":"*","method":"echo","args":[42,true,null,{"a":[1,2]},"42","two words",-1]}`},
		{args: nil, want: `null`, line: `{"from":"*","method":"echo","args":[]}`},
		// Flags may follow the arguments; --string sends each as it is.
		{args: []string{"hello", "42", "--string", "--timeout", "5s"}, want: `["hello","42"]`,
			line: `{"from":"*","method":"echo","args":["hello","42"]}`},
	}
	for _, tt := range tests {
		stdout, stderr, err := runOnce(runCall, with(append([]string{id, "echo"}, tt.args...)...)...)
		if err != nil {
			t.Fatalf("call echo %q: %v (stderr %s)", tt.args, err, stderr)
		}
		if got := strings.TrimSuffix(stdout, "\n"); got != tt.want {
			t.Errorf("call echo %q printed %s, want %s", tt.args, got, tt.want)
		}
		if line := readLine(t, listen.stdout, "the call line"); !matchLine(line, tt.line) {
			t.Errorf("listen printed %s, want %s", line, tt.line)
		}
	}

	// Unknown methods are printed, and fail the call with not_found.
	_, _, err := runOnce(runCall, with(id, "nope", "1")...)
	if !errors.Is(err, monologue.ErrNotFound) {
		t.Errorf("call nope: %v, want ErrNotFound", err)
	}
	if line := readLine(t, listen.stdout, "the nope line"); !matchLine(line, `{"from":"*","method":"nope","args":[1]}`) {
		t.Errorf("listen printed %s", line)
	}

	// Direct messages.
	for _, payload := range [][]string{{`{"k": "v"}`}, {"plain text", "--string"}} {
		if _, stderr, err := runOnce(runSend, with(append([]string{id}, payload...)...)...); err != nil {
			t.Fatalf("send: %v (%s)", err, stderr)
		}
	}
	if line := readLine(t, listen.stdout, "the message"); !matchLine(line, `{"from":"*","payload":{"k":"v"}}`) {
		t.Errorf("listen printed %s", line)
	}
	if line := readLine(t, listen.stdout, "the message"); !matchLine(line, `{"from":"*","payload":"plain text"}`) {
		t.Errorf("listen printed %s", line)
	}

	if err := listen.stop(); err != nil {
		t.Errorf("listen returned %v", err)
	}
	// The listener is gone now.
	if _, _, err := runOnce(runCall, with(id, "echo")...); !errors.Is(err, monologue.ErrGone) {
		t.Errorf("call after listen stopped: %v, want ErrGone", err)
	}
	if _, _, err := runOnce(runSend, with(id, `"x"`)...); !errors.Is(err, monologue.ErrGone) {
		t.Errorf("send after listen stopped: %v, want ErrGone", err)
	}
}

// matchLine compares a JSON line with want, where "*" matches any from.
func matchLine(line, want string) bool {
	if i := strings.Index(line, `"from":"`); i >= 0 {
		end := strings.IndexByte(line[i+len(`"from":"`):], '"')
		if end >= 0 {
			line = line[:i] + `"from":"*"` + line[i+len(`"from":"`)+end+1:]
		}
	}
	return line == want
}

func TestSubscribePublish(t *testing.T) {
	flags := startCLIGateway(t)
	subscribe := runBackground(t, runSubscribe, append(append([]string{}, flags...), "news"))
	if line := readLine(t, subscribe.stderr, "the subscription"); !strings.HasPrefix(line, "subscribed to news as ") {
		t.Fatalf("subscribe said %q", line)
	}
	for _, payload := range [][]string{{`[1, 2]`}, {"--string", "breaking"}} {
		if _, stderr, err := runOnce(runPublish, append(append(append([]string{}, flags...), "news"), payload...)...); err != nil {
			t.Fatalf("publish: %v (%s)", err, stderr)
		}
	}
	for _, want := range []string{`{"channel":"news","from":"*","payload":[1,2]}`, `{"channel":"news","from":"*","payload":"breaking"}`} {
		if line := readLine(t, subscribe.stdout, "the channel message"); !matchLine(line, want) {
			t.Errorf("subscribe printed %s, want %s", line, want)
		}
	}
	if err := subscribe.stop(); err != nil {
		t.Errorf("subscribe returned %v", err)
	}
}

func TestClientCommandLine(t *testing.T) {
	flags := startCLIGateway(t)
	tests := []struct {
		args   []string
		status int
		stderr string
	}{
		{args: []string{"call", "onlyid"}, status: 2, stderr: "expected 2 arguments"},
		{args: []string{"send", "a", "b", "c"}, status: 2, stderr: "unexpected arguments"},
		{args: []string{"listen", "extra"}, status: 2, stderr: "usage: monologue listen"},
		{args: []string{"subscribe", "--bogus"}, status: 2, stderr: "flag provided but not defined"},
		{args: []string{"call", "-h"}, status: 0, stderr: "usage: monologue call [flags] ID METHOD"},
		{args: append(append([]string{"call"}, flags...), "AAAAAAAAAAAAAAA=", "m"), status: 1, stderr: "gone"},
		{args: []string{"call", "--endpoint", flags[1], "--api-key", "wrong", "id", "m"}, status: 1, stderr: "403"},
		{args: []string{"call", "--timeout"}, status: 2, stderr: "flag needs an argument"},
		{args: append(append([]string{"publish"}, flags...), "", "1"), status: 1, stderr: "empty channel name"},
		// Arguments are JSON: a mistyped object is an error, not a string.
		{args: append(append([]string{"call"}, flags...), "AAAAAAAAAAAAAAA=", "m", `{"a":`), status: 2, stderr: `argument 1 is not JSON: {"a":`},
		{args: append(append([]string{"call"}, flags...), "AAAAAAAAAAAAAAA=", "m", "1", "hello"), status: 2, stderr: "argument 2 is not JSON: hello"},
		{args: append(append([]string{"send"}, flags...), "AAAAAAAAAAAAAAA=", "hello"), status: 2, stderr: "PAYLOAD is not JSON: hello"},
		{args: append(append([]string{"call"}, flags...), "AAAAAAAAAAAAAAA=", "m", "--", "--string"), status: 2, stderr: "argument 1 is not JSON: --string"},
		// Flags after the arguments are flags.
		{args: []string{"call", "id", "m", "--endpoint", flags[1], "--api-key", "wrong"}, status: 1, stderr: "403"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if status := run(tt.args, &stdout, &stderr); status != tt.status || !strings.Contains(stderr.String(), tt.stderr) {
			t.Errorf("%q: status %d, stderr %q; want %d and %q", tt.args, status, stderr.String(), tt.status, tt.stderr)
		}
	}
}

func TestClientConfigFromEnvironment(t *testing.T) {
	flags := startCLIGateway(t)
	t.Chdir(t.TempDir())
	t.Setenv("HOME", t.TempDir())
	t.Setenv(monologue.EnvEndpoint, flags[1])
	t.Setenv(monologue.EnvAPIKey, cliTestKey)
	listen := runBackground(t, runListen, nil)
	id := readLine(t, listen.stdout, "the ID")
	stdout, stderr, err := runOnce(runCall, id, "echo", "1")
	if err != nil || stdout != "1\n" {
		t.Errorf("call with configuration from the environment: %q, %v (%s)", stdout, err, stderr)
	}
}

// TestListenByName: a listener with --name is called, and counted by
// presence, by its name alone.
func TestListenByName(t *testing.T) {
	flags := startCLIGateway(t)
	listen := runBackground(t, runListen, append(append([]string{}, flags...), "--name", "machine-1"))
	id := readLine(t, listen.stdout, "the ID")
	with := func(args ...string) []string { return append(append([]string{}, flags...), args...) }
	stdout, stderr, err := runOnce(runCall, with("@machine-1", "echo", `"hi"`)...)
	if err != nil || strings.TrimSpace(stdout) != `"hi"` {
		t.Fatalf("call @machine-1 echo hi: %q, %v (stderr %s)", stdout, err, stderr)
	}
	if line := readLine(t, listen.stdout, "the call line"); !matchLine(line, `{"from":"*","method":"echo","args":["hi"]}`) {
		t.Errorf("listen printed %s", line)
	}
	stdout, stderr, err = runOnce(runPresence, with("@machine-1")...)
	if err != nil || strings.TrimSpace(stdout) != `{"count":1,"members":["`+id+`"]}` {
		t.Fatalf("presence @machine-1: %q, %v (stderr %s)", stdout, err, stderr)
	}
	if err := listen.stop(); err != nil {
		t.Errorf("listen returned %v", err)
	}
	if _, _, err := runOnce(runCall, with("@machine-1", "echo")...); !errors.Is(err, monologue.ErrGone) {
		t.Errorf("call after listen stopped: %v, want ErrGone", err)
	}
}

// TestCallTimeoutNamesFlag: a call that gets no answer says which flag
// sets how long it waits, not which Go field.
func TestCallTimeoutNamesFlag(t *testing.T) {
	flags := startCLIGateway(t)
	// A peer that never answers calls.
	ws, _, err := websocket.DefaultDialer.Dial(flags[1], http.Header{"X-Api-Key": {cliTestKey}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		t.Fatal(err)
	}
	_, id, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	status := run(append(append([]string{"call"}, flags...), string(id), "m", "--timeout", "200ms"), &stdout, &stderr)
	if status != 1 || !strings.Contains(stderr.String(), "no reply within 200ms (--timeout)") || strings.Contains(stderr.String(), "Options.") {
		t.Errorf("status %d, stderr %q", status, stderr.String())
	}
}

// TestListenPrintsGatewayFrames: a frame posted through the management API
// (POST @connections), as wscat would show it, is printed by listen as a
// message from the gateway.
func TestListenPrintsGatewayFrames(t *testing.T) {
	srv := gatewaytest.Start(t, gateway.Options{APIKeys: []string{cliTestKey}, Logger: slog.New(slog.DiscardHandler)})
	listen := runBackground(t, runListen, []string{"--endpoint", srv.URL, "--api-key", cliTestKey})
	id := readLine(t, listen.stdout, "the ID")
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, frame := range []string{`{"deploy":"v2"}`, "plain words"} {
		resp, err := client.Post(srv.AdminURL+"/@connections/"+url.PathEscape(id), "text/plain", strings.NewReader(frame))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	for _, want := range []string{`{"payload":{"deploy":"v2"}}`, `{"payload":"plain words"}`} {
		if line := readLine(t, listen.stdout, "the gateway's frame"); line != want {
			t.Errorf("listen printed %s, want %s", line, want)
		}
	}
	if err := listen.stop(); err != nil {
		t.Errorf("listen returned %v", err)
	}
}
