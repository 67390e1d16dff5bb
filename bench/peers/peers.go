// Package peers runs the server side of each benchmark peer, one per process:
// the harness starts "monologue-bench peer NAME" (or a test binary in peer
// mode) as a child, so that the server's CPU time and memory can be read from
// /proc and the server can be pinned to its own core.
//
// Run starts the named server on loopback, prints one JSON line (Ready) on
// stdout, and serves until its context ends or its stdin reaches EOF (so a
// child never outlives a harness that died). The Socket.IO peer is not here:
// it runs on Node (bench/js/server.js) and prints the same line.
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/monologue-go/monologue/bench/peers/floor"
	"github.com/nats-io/nats-server/v2/server"
)

// Ready is the line a peer server prints on stdout once it accepts
// connections.
type Ready struct {
	// URL is the WebSocket URL clients dial.
	URL string `json:"url"`
	// Admin is the base URL of the admin listener (GET /heap), if any.
	Admin string `json:"admin,omitempty"`
}

// Heap is the answer of GET /heap on a peer's admin listener, read after a
// garbage collection.
type Heap struct {
	// HeapInuse is the Go runtime's (or V8's) heap in use, in bytes.
	HeapInuse int64 `json:"heapInuse"`
	// Goroutines is the number of goroutines (0 on Node).
	Goroutines int `json:"goroutines"`
}

// Options configure Run.
type Options struct {
	// APIKey is the key monologue clients must present; other peers ignore
	// it. Empty means "bench".
	APIKey string
	// Stdin, when non-nil, is read until EOF, upon which Run returns.
	Stdin io.Reader
	// ClusterListen, for the nats peer, is the HOST:PORT of a route
	// listener: the server is then one node of a NATS cluster, routed to
	// ClusterPeers. Empty: a lone server. Other peers ignore it.
	ClusterListen string
	// ClusterPeers are the other nodes' route listeners, HOST:PORT each.
	ClusterPeers []string
}

// Names are the peers Run can start.
func Names() []string { return []string{"monologue", "nats", "floor"} }

// server is a started peer.
type started struct {
	url      string
	shutdown func(context.Context) error
}

// Run starts peer name, prints its Ready line on stdout and serves until ctx
// ends or opts.Stdin reaches EOF.
func Run(ctx context.Context, name string, opts *Options, stdout io.Writer) error {
	if opts == nil {
		opts = &Options{}
	}
	key := opts.APIKey
	if key == "" {
		key = "bench"
	}
	var (
		s   *started
		err error
	)
	switch name {
	case "monologue":
		s, err = startMonologue(key)
	case "nats":
		s, err = startNATS(opts.ClusterListen, opts.ClusterPeers)
	case "floor":
		s, err = startHTTP(floor.New())
		if err == nil {
			s = wsURL(s)
		}
	default:
		return fmt.Errorf("start peer %q: unknown (known: %v)", name, slices.Concat(Names(), []string{"socketio (Node)"}))
	}
	if err != nil {
		return fmt.Errorf("start peer %s: %w", name, err)
	}
	admin, err := startHTTP(http.HandlerFunc(serveHeap))
	if err != nil {
		_ = s.shutdown(context.Background())
		return fmt.Errorf("start peer %s admin: %w", name, err)
	}
	line, _ := json.Marshal(Ready{URL: s.url, Admin: admin.url})
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return fmt.Errorf("announce peer %s: %w", name, err)
	}
	eof := make(chan struct{})
	if opts.Stdin != nil {
		go func() {
			_, _ = io.Copy(io.Discard, opts.Stdin)
			close(eof)
		}()
	}
	select {
	case <-ctx.Done():
	case <-eof:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(s.shutdown(shutdownCtx), admin.shutdown(shutdownCtx))
}

// startHTTP serves h on a random loopback port.
func startHTTP(h http.Handler) (*started, error) {
	return startHTTPListener(h, nil)
}

// startHTTPListener serves h on a random loopback port, through
// wrap(listener) when wrap is not nil.
func startHTTPListener(h http.Handler, wrap func(net.Listener) net.Listener) (*started, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &started{
		url: "http://" + ln.Addr().String(),
		shutdown: func(ctx context.Context) error {
			// Hijacked WebSockets are not tracked by Shutdown; the process
			// exits right after, which closes them.
			return srv.Shutdown(ctx)
		},
	}, nil
}

// wsURL turns startHTTP's http:// URL into the ws:// one clients dial.
func wsURL(s *started) *started {
	s.url = "ws" + s.url[len("http"):] + "/"
	return s
}

// clusterName is the name of the NATS cluster the nats peer's nodes form.
const clusterName = "monologue-bench"

// startNATS runs nats-server in process with WebSocket on; with a route
// listener, as a node of a cluster routed to peers.
func startNATS(listen string, peers []string) (*started, error) {
	opts := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true, NoLog: true,
		Websocket: server.WebsocketOpts{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoTLS: true},
	}
	if listen != "" {
		host, port, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("route listener %q: %w", listen, err)
		}
		opts.Cluster = server.ClusterOpts{Name: clusterName, Host: host}
		if opts.Cluster.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("route listener %q: bad port", listen)
		}
		for _, peer := range peers {
			opts.Routes = append(opts.Routes, &url.URL{Scheme: "nats-route", Host: peer})
		}
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, err
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("nats-server not ready after 10s")
	}
	return &started{url: ns.WebsocketURL(), shutdown: func(context.Context) error {
		ns.Shutdown()
		return nil
	}}, nil
}

func serveHeap(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/heap" {
		http.NotFound(w, r)
		return
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Heap{HeapInuse: int64(ms.HeapInuse), Goroutines: runtime.NumGoroutine()})
}
