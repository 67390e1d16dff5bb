package bench

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// memDriver is an in-process peer for testing the scenarios' accounting:
// publishes go to every subscriber through mangle, which decides what each
// subscriber receives instead (nothing, a wrong payload, a payload twice).
type memDriver struct {
	mangle func(sub int, payload string) []string

	mu   sync.Mutex
	subs []chan string
}

func (d *memDriver) callee(context.Context, func(string) string) (string, func() error, error) {
	return "", nil, errors.New("memDriver: no rpc")
}

func (d *memDriver) caller(context.Context) (caller, error) {
	return nil, errors.New("memDriver: no rpc")
}

func (d *memDriver) hold(context.Context, net.IP) (holder, error) {
	return nil, errors.New("memDriver: no connections")
}

func (d *memDriver) publisher(context.Context) (publisher, error) { return memPublisher{d}, nil }

type memPublisher struct{ d *memDriver }

func (p memPublisher) publish(_ context.Context, _, payload string) error {
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	for i, ch := range p.d.subs {
		for _, out := range p.d.mangle(i, payload) {
			ch <- out
		}
	}
	return nil
}

func (p memPublisher) close() error { return nil }

func (d *memDriver) subscribe(_ context.Context, _ net.IP, _ string, deliver func([]byte)) (holder, error) {
	ch := make(chan string, 1024)
	d.mu.Lock()
	d.subs = append(d.subs, ch)
	d.mu.Unlock()
	h := &memHolder{ch: ch, stopped: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		for p := range ch {
			deliver([]byte(p))
		}
	}()
	return h, nil
}

type memHolder struct {
	ch      chan string
	once    sync.Once
	stopped chan struct{}
}

func (h *memHolder) done() <-chan struct{} { return h.stopped }

func (h *memHolder) close() error {
	h.once.Do(func() { close(h.ch) })
	<-h.stopped
	return nil
}

// selfServer measures this process as if it were the server.
func selfServer(t *testing.T) *server {
	p, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return &server{name: "self", cmd: &exec.Cmd{Process: p}, exited: make(chan struct{})}
}

func TestFanoutAccountsForEveryDelivery(t *testing.T) {
	seqOf := func(p string) string { s, _, _ := strings.Cut(p, ":"); return s }
	d := &memDriver{mangle: func(sub int, p string) []string {
		switch {
		case sub == 0 && seqOf(p) == "f3": // lost
			return nil
		case sub == 1 && seqOf(p) == "f5": // corrupted: a wrong frame, and the right one missing
			return []string{p[:len(p)-1] + "y"}
		case sub == 2 && seqOf(p) == "f7": // delivered twice
			return []string{p, p}
		}
		return []string{p}
	}}
	opts := (&Options{CallTimeout: 300 * time.Millisecond}).withDefaults()
	spec := Spec{Scenario: "fanout", N: 5, K: 4, S: 64, MaxOps: 100, Duration: time.Minute}.withDefaults()
	var r Result
	err := runFanout(context.Background(), []driver{d}, selfServer(t), spec, opts, &r)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s %q", summary(r), r.ErrorSamples)
	// 20 messages × 5 subscribers: 2 never arrived right (lost, corrupted),
	// 1 wrong frame and 1 extra frame arrived.
	if r.Ops != 98 || r.Mismatches != 2 || r.Errors != 4 {
		t.Fatalf("ops %d, mismatches %d, errors %d: want 98, 2, 4", r.Ops, r.Mismatches, r.Errors)
	}
}

func TestFanoutClean(t *testing.T) {
	d := &memDriver{mangle: func(_ int, p string) []string { return []string{p} }}
	opts := (&Options{}).withDefaults()
	spec := Spec{Scenario: "fanout", N: 7, K: 3, S: 100, MaxOps: 700, Duration: time.Minute, Warmup: 20 * time.Millisecond}.withDefaults()
	var r Result
	if err := runFanout(context.Background(), []driver{d}, selfServer(t), spec, opts, &r); err != nil {
		t.Fatal(err)
	}
	if r.Ops != 700 || r.Errors != 0 || r.LatencyUs.P50 <= 0 {
		t.Fatalf("ops %d, errors %d, p50 %v: want 700, 0, > 0", r.Ops, r.Errors, r.LatencyUs.P50)
	}
}
