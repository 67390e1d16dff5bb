package main_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/dynamolocal"
	"github.com/monologue-go/monologue/lambdaemu/runtimeapi"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynamolocal.Stop()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 {
		if err := goleak.Find(
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildDir  string
	buildPath string
	buildErr  error
)

// bootstrap builds this command for the host, as it is built for Lambda.
func bootstrap(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "monologue-lambda-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(buildDir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", buildPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// managementAPI records the frames posted to any connection.
type managementAPI struct {
	*httptest.Server
	mu     sync.Mutex
	frames map[string][]string
}

func newManagementAPI(t testing.TB) *managementAPI {
	m := &managementAPI{frames: make(map[string][]string)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{stage}/@connections/{id}", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") == "" {
			http.Error(w, `{"message":"unsigned"}`, http.StatusForbidden)
			return
		}
		m.mu.Lock()
		m.frames[r.PathValue("id")] = append(m.frames[r.PathValue("id")], string(data))
		m.mu.Unlock()
	})
	m.Server = httptest.NewServer(mux)
	t.Cleanup(m.Close)
	return m
}

func (m *managementAPI) take(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	frames := m.frames[id]
	delete(m.frames, id)
	return frames
}

// function is a running bootstrap process.
type function struct {
	api     *runtimeapi.Server
	startup time.Duration // exec to the first invocation/next
	stderr  *strings.Builder
}

// start runs the bootstrap against a fresh Runtime API and waits until it
// polls for its first invocation.
func start(t testing.TB, env ...string) *function {
	t.Helper()
	fn, stop := launch(t, env...)
	t.Cleanup(stop)
	return fn
}

// launch starts the bootstrap and waits for its first invocation/next;
// stop kills it and closes its Runtime API.
func launch(t testing.TB, env ...string) (fn *function, stop func()) {
	t.Helper()
	path := bootstrap(t)
	api, err := runtimeapi.New(runtimeapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stderr := &strings.Builder{}
	cmd := exec.Command(path)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_RUNTIME_API=" + api.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=monologue",
		"AWS_REGION=us-east-1",
	}, env...)
	cmd.Stderr = stderr
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		api.Abort(fmt.Errorf("bootstrap exited: %v", cmd.ProcessState))
		close(exited)
	}()
	stop = func() {
		cmd.Process.Kill()
		<-exited
		api.Close()
	}
	select {
	case <-api.Ready():
	case <-exited:
		stop()
		t.Fatalf("bootstrap exited before polling: %v\n%s", cmd.ProcessState, stderr)
	case <-time.After(30 * time.Second):
		stop()
		t.Fatalf("bootstrap did not poll within 30 s\n%s", stderr)
	}
	return &function{api: api, startup: time.Since(began), stderr: stderr}, stop
}

func event(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "awslambda", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func (f *function) invoke(t testing.TB, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := f.api.Invoke(ctx, event(t, name))
	if err != nil {
		t.Fatalf("invoke %s: %v\n%s", name, err, f.stderr)
	}
	return string(out)
}

const (
	connA = "AtuLLemUPHcCItg="
	connB = "BtuLLemUPHcCItg="
)

// TestBootstrap runs the real bootstrap as Lambda does and checks what it
// posts to the management API, for direct messages (no DynamoDB) and for
// subscribe and publish (DynamoDB Local through AWS_ENDPOINT_URL_DYNAMODB),
// with no credentials in the environment, as a local emulation runs it.
func TestBootstrap(t *testing.T) {
	endpoint := dynamolocal.Start(t)
	if err := awslambda.CreateTable(context.Background(), dynamolocal.NewClient(endpoint), "bootstrap-channels"); err != nil {
		t.Fatal(err)
	}
	mgmt := newManagementAPI(t)
	fn := start(t,
		"MONOLOGUE_TABLE=bootstrap-channels",
		"MONOLOGUE_PUBLISH_KEY=publish-key",
		"MONOLOGUE_MANAGEMENT_ENDPOINT="+mgmt.URL+"/latest",
		"AWS_ENDPOINT_URL_DYNAMODB="+endpoint)
	t.Logf("start-up, exec to first invocation/next: %v", fn.startup)

	steps := []struct {
		event    string
		response string
		frames   map[string][]string
	}{
		{"ws-connect.json", `{"statusCode":200}`, nil},
		{"ws-default-whoami.json", `{"statusCode":200}`, map[string][]string{connA: {connA}}},
		{"ws-loopback.json", `{"statusCode":200}`, map[string][]string{
			connA: {`{"to":"AtuLLemUPHcCItg=","from":"AtuLLemUPHcCItg=","payload":{"n":1,"s":"héllo"}}`}}},
		{"ws-subscribe.json", `{"statusCode":200}`, map[string][]string{
			connA: {`{"action":"subscribed","channel":"news","id":1}`}}},
		{"http-publish.json", `"statusCode":200`, map[string][]string{
			connA: {`{"channel":"news","payload":{"headline":"server news"}}`}}},
		{"ws-disconnect.json", `{"statusCode":200}`, nil},
		{"http-publish.json", `"statusCode":200`, nil}, // no subscribers left
	}
	for _, step := range steps {
		out := fn.invoke(t, step.event)
		if !strings.Contains(out, step.response) {
			t.Fatalf("%s: response %s, want %s", step.event, out, step.response)
		}
		for _, id := range []string{connA, connB} {
			if got := mgmt.take(id); !slices.Equal(got, step.frames[id]) {
				t.Fatalf("%s: frames to %s = %q, want %q\n%s", step.event, id, got, step.frames[id], fn.stderr)
			}
		}
	}
}

// BenchmarkBootstrapStartup measures the cold start of the bootstrap: from
// exec to its first GET invocation/next.
func BenchmarkBootstrapStartup(b *testing.B) {
	bootstrap(b) // build outside the timing
	var total time.Duration
	for b.Loop() {
		fn, stop := launch(b, "MONOLOGUE_TABLE=unused", "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=token")
		total += fn.startup
		stop()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms/start")
}

func TestBootstrapRefusesMissingTable(t *testing.T) {
	cmd := exec.Command(bootstrap(t))
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=127.0.0.1:1"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Config.Table is required") {
		t.Fatalf("without MONOLOGUE_TABLE: %v\n%s", err, out)
	}
}
