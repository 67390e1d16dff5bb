package chaos

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monologue-go/monologue/internal/poll"
	"github.com/monologue-go/monologue/internal/testlog"
)

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
	binaryErr  error
)

// buildBinary builds cmd/monologue once per test binary, with the race
// detector when the tests run with it.
func buildBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		binaryDir, binaryErr = os.MkdirTemp("", "monologue-chaos-")
		if binaryErr != nil {
			return
		}
		binaryPath = filepath.Join(binaryDir, "monologue")
		args := []string{"build", "-o", binaryPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/monologue-go/monologue/cmd/monologue")
		start := time.Now()
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			binaryErr = fmt.Errorf("build monologue: %v\n%s", err, out)
			return
		}
		fmt.Fprintf(os.Stderr, "chaos: built %s in %v (race %v)\n", binaryPath, time.Since(start).Round(time.Millisecond), raceEnabled)
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func removeBinary() {
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
}

// reservePorts holds n free ports of 127.0.0.1 until each is released, so
// that no other process takes one before its node listens on it.
func reservePorts(t testing.TB, n int) []net.Listener {
	t.Helper()
	var listeners []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, l)
	}
	t.Cleanup(func() {
		for _, l := range listeners {
			l.Close()
		}
	})
	return listeners
}

// nodeProc is one `monologue serve` process of a procCluster.
type nodeProc struct {
	slot      int
	url       string // ws://127.0.0.1:P/
	publicURL string // http://127.0.0.1:P
	adminURL  string // http://127.0.0.1:Q
	cmd       *exec.Cmd
	log       *testlog.Buffer // stdout and stderr
	exited    chan struct{}   // closed once the process has been waited for
	exitErr   error           // set before exited is closed
}

// procCluster runs the nodes of a cluster as child processes, each with an
// embedded NATS server on a route port of its slot, routed to the others.
type procCluster struct {
	t      *testing.T
	bin    string
	key    string
	name   string
	secret string
	routes []string // 127.0.0.1:PORT of each slot

	mu    sync.Mutex
	nodes []*nodeProc // the current process of each slot; nil while none
	all   []*nodeProc // every process started
}

// clusterKey is the API key of the process clusters.
const clusterKey = "chaos-test-key-0123456789"

// startProcCluster starts n nodes and waits until each reaches the
// others' connections. The nodes are stopped when the test ends.
func startProcCluster(t *testing.T, n int) *procCluster {
	t.Helper()
	c := &procCluster{
		t:      t,
		bin:    buildBinary(t),
		key:    clusterKey,
		name:   "chaos-" + strings.ToLower(rand.Text()[:8]),
		secret: rand.Text(),
		nodes:  make([]*nodeProc, n),
	}
	reserved := reservePorts(t, n)
	for _, l := range reserved {
		c.routes = append(c.routes, l.Addr().String())
	}
	t.Cleanup(c.stopAll)
	for i := range n {
		reserved[i].Close() // just before the node listens on it
		c.start(i)
	}
	c.waitMesh(20 * time.Second)
	return c
}

// start starts the node of slot i and returns once it listens.
func (c *procCluster) start(i int) *nodeProc {
	c.t.Helper()
	var peers []string
	for j, r := range c.routes {
		if j != i {
			peers = append(peers, r)
		}
	}
	cmd := exec.Command(c.bin, "serve",
		"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--api-key", c.key,
		"--cluster-listen", c.routes[i], "--cluster-peers", strings.Join(peers, ","),
		"--cluster-name", c.name,
		"--log-level", "warn")
	cmd.Dir = c.t.TempDir()
	// The secret through the environment, as an operator would pass it;
	// nothing else of ours, so that no MONOLOGUE_* variable of the machine
	// changes the node.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MONOLOGUE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "MONOLOGUE_CLUSTER_SECRET="+c.secret)
	// A race-built node would sleep a second before exiting (the race
	// detector's default, to catch late reports): the reports it makes
	// while it runs are enough.
	cmd.Env = append(cmd.Env, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	p := &nodeProc{slot: i, cmd: cmd, log: &testlog.Buffer{Max: 1 << 20}, exited: make(chan struct{})}
	cmd.Stderr = p.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatalf("start node %d: %v", i, err)
	}
	c.mu.Lock()
	c.all = append(c.all, p)
	c.mu.Unlock()
	ready := make(chan struct{})
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			line := scanner.Text()
			fmt.Fprintln(p.log, line)
			switch {
			case strings.HasPrefix(line, "listening "):
				p.url = strings.TrimPrefix(line, "listening ")
				p.publicURL = "http" + strings.TrimSuffix(strings.TrimPrefix(p.url, "ws"), "/")
			case strings.HasPrefix(line, "admin "):
				p.adminURL = strings.TrimSuffix(strings.Fields(line)[1], "/@connections/{id}")
				close(ready) // serve prints the admin line right after the listening one
			}
		}
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()
	select {
	case <-ready:
	case <-p.exited:
		c.t.Fatalf("node %d exited before listening (%v):\n%s", i, p.exitErr, p.log)
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-p.exited
		c.t.Fatalf("node %d not listening after 20 s:\n%s", i, p.log)
	}
	c.mu.Lock()
	c.nodes[i] = p
	c.mu.Unlock()
	return p
}

// node returns the current process of slot i.
func (c *procCluster) node(i int) *nodeProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// live returns the slots that have a process.
func (c *procCluster) live() []*nodeProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var live []*nodeProc
	for _, p := range c.nodes {
		if p != nil {
			live = append(live, p)
		}
	}
	return live
}

// kill kills the node of slot i with SIGKILL, waits for it to be gone,
// and returns when the signal was sent.
func (c *procCluster) kill(i int) time.Time {
	c.t.Helper()
	p, at := c.signal(i, syscall.SIGKILL)
	<-p.exited
	return at
}

// terminate stops the node of slot i with SIGTERM, checks that it exits 0
// within 20 s, and returns when the signal was sent.
func (c *procCluster) terminate(i int) time.Time {
	c.t.Helper()
	p, at := c.signal(i, syscall.SIGTERM)
	c.waitExit(p)
	return at
}

// signal sends sig to the node of slot i, which is then no longer counted
// as running, and returns it and when the signal was sent.
func (c *procCluster) signal(i int, sig syscall.Signal) (*nodeProc, time.Time) {
	c.t.Helper()
	p := c.detach(i)
	at := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		c.t.Fatalf("signal node %d: %v", i, err)
	}
	return p, at
}

// waitExit checks that p exits 0 within 20 s.
func (c *procCluster) waitExit(p *nodeProc) {
	c.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		c.t.Fatalf("node %d still running 20 s after SIGTERM", p.slot)
	}
	if p.exitErr != nil {
		c.t.Errorf("node %d after SIGTERM: %v", p.slot, p.exitErr)
	}
}

func (c *procCluster) detach(i int) *nodeProc {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.nodes[i]
	if p == nil {
		c.t.Fatalf("node %d is not running", i)
	}
	c.nodes[i] = nil
	return p
}

// stopAll stops the nodes still running, checks that each exits 0, and
// fails the test when any node reported a data race. It shows the nodes'
// logs when the test failed.
func (c *procCluster) stopAll() {
	for _, p := range c.live() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.live() {
		select {
		case <-p.exited:
			if p.exitErr != nil {
				c.t.Errorf("node %d after SIGTERM: %v", p.slot, p.exitErr)
			}
		case <-time.After(20 * time.Second):
			c.t.Errorf("node %d still running 20 s after SIGTERM", p.slot)
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	c.mu.Lock()
	all := c.all
	c.mu.Unlock()
	for _, p := range all {
		if strings.Contains(p.log.String(), "DATA RACE") {
			c.t.Errorf("node %d reported a data race", p.slot)
		}
		if c.t.Failed() {
			c.t.Logf("log of node %d (%s):\n%s", p.slot, p.url, p.log)
		}
	}
}

// waitMesh waits until a connection on each live node reaches a
// connection on each other live node.
func (c *procCluster) waitMesh(timeout time.Duration) {
	c.t.Helper()
	live := c.live()
	probes := make([]*wsClient, len(live))
	for i, p := range live {
		probes[i] = dial(c.t, p.url, c.key, fmt.Sprintf("mesh probe on node %d", p.slot))
		probes[i].whoami(c.t)
	}
	defer func() {
		for _, p := range probes {
			p.close()
		}
	}()
	done := make(map[[2]int]bool)
	poll.Until(c.t, timeout, func() string {
		for i, from := range probes {
			for j, to := range probes {
				if i == j || done[[2]int{i, j}] {
					continue
				}
				for _, answer := range from.roundTrip(c.t, fmt.Sprintf(`{"to":%q,"payload":"mesh"}`, to.id), frameTimeout) {
					if errorCode(answer) != "" {
						return fmt.Sprintf("node %d to node %d: %s", live[i].slot, live[j].slot, answer)
					}
				}
				done[[2]int{i, j}] = true
			}
		}
		return ""
	})
}
