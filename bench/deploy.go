package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// deployment is a peer run as one or several server nodes (Spec.Nodes),
// each a child process pinned like a single server, with the broker they
// share, if any.
type deployment struct {
	peer  string
	nodes []*server
	// broker is the redis-server the Socket.IO nodes share, or nil.
	broker *server
	// backbonePorts are the listeners whose connections carry what the
	// nodes send each other: the route listeners of the embedded or
	// standalone NATS servers, or Redis's port. Empty on one node.
	backbonePorts []int
	// dir is a temporary directory (Redis's), removed by stop.
	dir string
}

// startDeployment starts n nodes of peer; on error, what started is
// stopped. The route ports are found free just before the nodes listen on
// them, so another process may take one in between: a deployment whose
// routes could not listen is started again on other ports, twice at most.
func startDeployment(ctx context.Context, peer string, n int, apiKey string, opts *Options) (*deployment, error) {
	for attempt := 1; ; attempt++ {
		d := &deployment{peer: peer}
		var err error
		switch serverOf(peer) {
		case "monologue":
			err = d.startMonologue(ctx, n, apiKey, opts)
		case "nats":
			err = d.startNATS(ctx, n, apiKey, opts)
		case "socketio":
			err = d.startSocketIO(ctx, n, apiKey, opts)
		default:
			err = fmt.Errorf("%s has no deployment on several nodes (those that do: %s)", peer, strings.Join(ClusterPeers, ", "))
		}
		if err == nil {
			return d, nil
		}
		d.stop()
		if attempt == 3 || ctx.Err() != nil || !routePortTaken(err) {
			return nil, err
		}
		fmt.Fprintf(opts.Log, "%s on %d nodes: %v; starting again on other ports\n", peer, n, err)
	}
}

// routePortTaken reports whether err says that a node's route listener
// could not listen (monologue serve's embedded NATS waits for it, then gives
// up; a bench NATS peer prints the listen error).
func routePortTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "route listener") || strings.Contains(msg, "address already in use")
}

// startMonologue runs n "monologue serve" processes, the real command with
// its defaults, one API key and log level warn; when n > 1, in cluster mode
// over their embedded NATS servers (--cluster-listen, --cluster-peers).
func (d *deployment) startMonologue(ctx context.Context, n int, apiKey string, opts *Options) error {
	if opts.MonologueBinary == "" {
		return errNoMonologueBinary
	}
	routes, err := d.routePorts(n)
	if err != nil {
		return err
	}
	for i := range n {
		args := []string{"serve", "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--api-key", apiKey, "--log-level", "warn"}
		if n > 1 {
			args = append(args, "--cluster-listen", loopback(routes[i]), "--cluster-peers", others(routes, i))
		}
		srv, err := launch(ctx, fmt.Sprintf("monologue node %d", i+1), exec.Command(opts.MonologueBinary, args...), opts, true, syscall.SIGTERM)
		if err != nil {
			return err
		}
		d.nodes = append(d.nodes, srv)
	}
	return nil
}

// startNATS runs n nats peers (nats-server embedded, WebSocket on), routed
// together when n > 1.
func (d *deployment) startNATS(ctx context.Context, n int, apiKey string, opts *Options) error {
	routes, err := d.routePorts(n)
	if err != nil {
		return err
	}
	for i := range n {
		var args []string
		if n > 1 {
			args = []string{"--cluster-listen", loopback(routes[i]), "--cluster-peers", others(routes, i)}
		}
		srv, err := startServer(ctx, "nats", apiKey, opts, args...)
		if err != nil {
			return fmt.Errorf("nats node %d: %w", i+1, err)
		}
		d.nodes = append(d.nodes, srv)
	}
	return nil
}

// startSocketIO runs n Socket.IO servers (bench/js/server.js); when n > 1,
// with the Redis adapter over a redis-server of their own.
func (d *deployment) startSocketIO(ctx context.Context, n int, apiKey string, opts *Options) error {
	var args []string
	if n > 1 {
		addr, err := d.startRedis(ctx, opts)
		if err != nil {
			return err
		}
		args = []string{"--redis", addr}
	}
	for i := range n {
		srv, err := startServer(ctx, "socketio", apiKey, opts, args...)
		if err != nil {
			return fmt.Errorf("socketio node %d: %w", i+1, err)
		}
		d.nodes = append(d.nodes, srv)
	}
	return nil
}

// ErrNoRedis is the error of a run that needs redis-server where there is
// none.
var ErrNoRedis = errors.New("bench: the socketio peer on several nodes needs redis-server (Debian: apt-get install redis-server)")

// startRedis starts redis-server on a free loopback port, without
// persistence, and returns its address once it answers PING.
func (d *deployment) startRedis(ctx context.Context, opts *Options) (string, error) {
	path, err := exec.LookPath(opts.RedisServer)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoRedis, err)
	}
	ports, err := freePorts(1)
	if err != nil {
		return "", err
	}
	if d.dir, err = os.MkdirTemp("", "monologue-bench-redis-"); err != nil {
		return "", fmt.Errorf("redis: %w", err)
	}
	addr := loopback(ports[0])
	cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", strconv.Itoa(ports[0]),
		"--save", "", "--appendonly", "no", "--dir", d.dir, "--loglevel", "warning")
	if d.broker, err = launch(ctx, "redis-server", cmd, opts, false, syscall.SIGTERM); err != nil {
		return "", err
	}
	d.backbonePorts = ports
	deadline := time.Now().Add(startTimeout)
	for {
		if err := pingRedis(addr); err == nil {
			return addr, nil
		} else if time.Now().After(deadline) {
			return "", fmt.Errorf("redis-server on %s: %w (stderr: %s)", addr, err, d.broker.stderr)
		}
		if err := d.broker.alive(); err != nil {
			return "", err
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// pingRedis sends PING to the Redis at addr and expects PONG.
func pingRedis(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// routePorts picks a free loopback port for each of n nodes' route
// listeners when n > 1, and remembers them as the backbone.
func (d *deployment) routePorts(n int) ([]int, error) {
	if n <= 1 {
		return nil, nil
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	d.backbonePorts = ports
	return ports, nil
}

// freePorts returns n distinct loopback ports that were free a moment ago
// (listeners that take port 0 themselves cannot be told to their peers
// before they start).
func freePorts(n int) ([]int, error) {
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// others lists the route listeners of every node but the i-th.
func others(ports []int, i int) string {
	var out []string
	for j, p := range ports {
		if j != i {
			out = append(out, loopback(p))
		}
	}
	return strings.Join(out, ",")
}

// servers are the deployment's processes: nodes, then the broker.
func (d *deployment) servers() []*server {
	if d.broker == nil {
		return d.nodes
	}
	return append(append([]*server(nil), d.nodes...), d.broker)
}

// cpu is the CPU time of every process of the deployment.
func (d *deployment) cpu() (time.Duration, error) {
	var total time.Duration
	for _, s := range d.servers() {
		t, err := s.cpu()
		if err != nil {
			return 0, err
		}
		total += t
	}
	return total, nil
}

// brokerCPU is the CPU time of the broker alone; ok is false without one.
func (d *deployment) brokerCPU() (t time.Duration, ok bool, err error) {
	if d.broker == nil {
		return 0, false, nil
	}
	t, err = d.broker.cpu()
	return t, true, err
}

// backbone is the number of bytes that have crossed the backbone's
// connections so far, either way; ok is false on one node.
func (d *deployment) backbone(ctx context.Context) (bytes uint64, ok bool, err error) {
	if len(d.backbonePorts) == 0 {
		return 0, false, nil
	}
	bytes, err = tcpBytes(ctx, d.backbonePorts)
	return bytes, err == nil, err
}

// rss is the resident memory of every process of the deployment.
func (d *deployment) rss() (int64, error) {
	var total int64
	for _, s := range d.servers() {
		v, err := s.rss()
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

// pinned reports whether every process was pinned.
func (d *deployment) pinned() bool {
	for _, s := range d.servers() {
		if !s.pinned {
			return false
		}
	}
	return len(d.nodes) > 0
}

// alive reports the processes that have exited.
func (d *deployment) alive() error {
	var errs []error
	for _, s := range d.servers() {
		errs = append(errs, s.alive())
	}
	return errors.Join(errs...)
}

// stop stops the nodes, all at once, then the broker, then removes the
// temporary directory.
func (d *deployment) stop() {
	var wg sync.WaitGroup
	for _, s := range d.nodes {
		wg.Go(s.stop)
	}
	wg.Wait()
	if d.broker != nil {
		d.broker.stop()
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}

// tcpBytes returns how many bytes the established TCP connections to or
// from ports have carried so far, either way: the sum of bytes_received
// (from the kernel's TCP_INFO, as ss reports it) over both ends of each
// connection, all of them on this machine.
func tcpBytes(ctx context.Context, ports []int) (uint64, error) {
	filter := []string{"("}
	for i, p := range ports {
		if i > 0 {
			filter = append(filter, "or")
		}
		filter = append(filter, "sport", "=", ":"+strconv.Itoa(p), "or", "dport", "=", ":"+strconv.Itoa(p))
	}
	filter = append(filter, ")")
	args := append([]string{"-tinH", "state", "established"}, filter...)
	out, err := exec.CommandContext(ctx, "ss", args...).Output()
	if err != nil {
		return 0, fmt.Errorf("count backbone bytes with ss: %w", err)
	}
	return sumBytesReceived(string(out)), nil
}

// sumBytesReceived adds up the bytes_received:N fields of ss -i output.
func sumBytesReceived(out string) uint64 {
	var total uint64
	for _, field := range strings.Fields(out) {
		if v, ok := strings.CutPrefix(field, "bytes_received:"); ok {
			n, err := strconv.ParseUint(v, 10, 64)
			if err == nil {
				total += n
			}
		}
	}
	return total
}
