// Package sqslocal runs an SQS protocol server for tests: goaws v0.5.4, the
// first line to speak the AWS JSON protocol of aws-sdk-go-v2's SQS client,
// on 127.0.0.1.
//
// Entry points: [Start] returns the endpoint of the test binary's one goaws,
// building it on first use with `go install` pinned to [Version] into the
// user cache directory (once, under a file lock, so parallel test binaries
// do not race) and starting it; [Stop], called from TestMain after m.Run,
// ends it; [NewClient] returns an SQS client for it; [CreateQueue] makes a
// queue with a dead-letter queue. Any failure fails the test: it never skips.
package sqslocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/monologue-go/monologue/internal/testlog"
)

// Module is the goaws command, with its pinned version.
const (
	Module  = "github.com/Admiral-Piett/goaws/app/cmd"
	Version = "v0.5.4"
)

// Region is the region clients of goaws use.
const Region = "us-east-1"

var (
	mu       sync.Mutex
	started  *instance
	startErr error
	queueSeq atomic.Int64
)

type instance struct {
	endpoint string
	cmd      *exec.Cmd
	done     chan struct{}
	output   *testlog.Buffer
	dir      string
}

// Start returns the endpoint of this test binary's goaws, building and
// starting it on first use, and fails t when it cannot.
func Start(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if started == nil && startErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		started, startErr = start(ctx)
		cancel()
	}
	if startErr != nil {
		t.Fatalf("sqslocal: %v", startErr)
	}
	return started.endpoint
}

// Stop ends the goaws that Start started, if any.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if started != nil {
		_ = started.cmd.Process.Kill()
		<-started.done
		_ = os.RemoveAll(started.dir)
		started = nil
	}
}

// NewClient returns an SQS client for endpoint with static credentials.
// Its retries are the SDK's defaults.
func NewClient(endpoint string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// CreateQueue creates a queue of a unique name starting with prefix, with a
// dead-letter queue that takes its messages after maxReceive receives
// (none when maxReceive is 0), and returns both URLs.
func CreateQueue(t testing.TB, client *sqs.Client, prefix string, visibility time.Duration, maxReceive int) (queueURL, deadLetterURL string) {
	t.Helper()
	ctx := context.Background()
	name := fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), queueSeq.Add(1))
	attrs := map[string]string{"VisibilityTimeout": strconv.Itoa(max(1, int(visibility/time.Second)))}
	if maxReceive > 0 {
		dlq, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
		if err != nil {
			t.Fatalf("sqslocal: create dead-letter queue: %v", err)
		}
		deadLetterURL = aws.ToString(dlq.QueueUrl)
		arn, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: dlq.QueueUrl, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatalf("sqslocal: dead-letter queue ARN: %v", err)
		}
		attrs["RedrivePolicy"] = fmt.Sprintf(`{"maxReceiveCount":"%d","deadLetterTargetArn":"%s"}`, maxReceive, arn.Attributes["QueueArn"])
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("sqslocal: create queue: %v", err)
	}
	return aws.ToString(out.QueueUrl), deadLetterURL
}

// start builds goaws and starts it, on another port if the one it picked
// was taken in the meantime (goaws listens on every interface).
func start(ctx context.Context) (*instance, error) {
	bin, err := install(ctx)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		inst, err := startOn(ctx, bin)
		if err == nil || attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			return inst, err
		}
	}
}

func startOn(ctx context.Context, bin string) (*instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "sqslocal-")
	if err != nil {
		return nil, fmt.Errorf("config dir: %w", err)
	}
	config := filepath.Join(dir, "goaws.yaml")
	yaml := fmt.Sprintf("Local:\n  Host: 127.0.0.1\n  Port: %d\n  Region: %s\n  AccountId: \"100010001000\"\n  LogToFile: false\n  QueueAttributeDefaults:\n    VisibilityTimeout: 30\n    ReceiveMessageWaitTimeSeconds: 0\n", port, Region)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return nil, fmt.Errorf("write config: %w", err)
	}
	inst := &instance{endpoint: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{}), output: &testlog.Buffer{}, dir: dir}
	inst.cmd = exec.Command(bin, "-config", config)
	inst.cmd.Dir = dir
	inst.cmd.Stdout = inst.output
	inst.cmd.Stderr = inst.output
	inst.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := inst.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { _ = inst.cmd.Wait(); close(inst.done) }()
	client := NewClient(inst.endpoint)
	for {
		probe, cancel := context.WithTimeout(ctx, time.Second)
		_, err := client.ListQueues(probe, &sqs.ListQueuesInput{})
		cancel()
		if err == nil {
			return inst, nil
		}
		select {
		case <-inst.done:
			return nil, fmt.Errorf("goaws exited: %s", inst.output.String())
		case <-ctx.Done():
			_ = inst.cmd.Process.Kill()
			return nil, fmt.Errorf("goaws did not answer: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// install builds goaws into the user cache directory unless it is there.
func install(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "monologue", "goaws-"+Version)
	bin := filepath.Join(dir, "cmd")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cache dir: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock: %w", err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", Module, Version, err, out)
	}
	if _, err := os.Stat(bin); err != nil {
		return "", errors.New("go install left no binary named cmd in " + dir)
	}
	return bin, nil
}

// freePort returns a port that no socket uses on any address now: goaws
// listens on every interface, so a port free on 127.0.0.1 alone may be
// taken on another address (the benchmark's tests connect from 127.0.0.2
// and up, and their closed connections linger in TIME_WAIT).
func freePort() (int, error) {
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
