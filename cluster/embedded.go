package cluster

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configures the NATS server a node runs in its own
// process, so that a cluster needs nothing but the monologue binary.
type EmbeddedOptions struct {
	// Name is the cluster's name; nodes with another name do not join.
	// Zero: DefaultName.
	Name string
	// Listen is the route listener, HOST:PORT, where the other nodes'
	// embedded servers connect. Required.
	Listen string
	// Peers are the other nodes' route listeners, HOST:PORT each. A node
	// keeps trying to reach those that are down.
	Peers []string
	// Secret, when not empty, is required of every route: a server that
	// reaches the route listener without it cannot join the cluster.
	Secret string
}

// Embedded is a NATS server running in the node's process, clustered with
// the other nodes' over their route listeners. The node connects to it in
// process; its client listener, which NATS needs before it routes, is on
// loopback and takes no one without a token drawn at start.
type Embedded struct {
	srv   *server.Server
	token string
}

// routeUser is the user name of routes when a secret is set.
const routeUser = "monologue"

// StartEmbedded starts the node's NATS server and waits until it accepts
// connections. Stop it with [Embedded.Shutdown].
func StartEmbedded(opts EmbeddedOptions) (*Embedded, error) {
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	host, portText, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("cluster: route listener %q: %w", opts.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("cluster: route listener %q: bad port", opts.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT // any free port, as net.Listen takes 0
	} else if l, err := net.Listen("tcp", opts.Listen); err != nil {
		// NATS would only log it and never become ready: say why at once.
		return nil, fmt.Errorf("cluster: route listener %s: %w", opts.Listen, err)
	} else {
		l.Close()
	}
	// NATS routes only once its client listener is up, so there is one:
	// on loopback, any free port, and closed to all but this process by a
	// random token (the node connects in process with it).
	token := rand.Text()
	sopts := &server.Options{
		ServerName:    "monologue-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		Host:          "127.0.0.1",
		Port:          server.RANDOM_PORT,
		Authorization: token,
		NoSigs:        true,
		NoLog:         true,
		Cluster: server.ClusterOpts{
			Name:         opts.Name,
			Host:         host,
			Port:         port,
			PingInterval: time.Second,
			MaxPingsOut:  2,
		},
	}
	if opts.Secret != "" {
		sopts.Cluster.Username, sopts.Cluster.Password = routeUser, opts.Secret
	}
	for _, peer := range opts.Peers {
		u := &url.URL{Scheme: "nats-route", Host: peer}
		if opts.Secret != "" {
			u.User = url.UserPassword(routeUser, opts.Secret)
		}
		sopts.Routes = append(sopts.Routes, u)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("cluster: embedded NATS: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, errors.New("cluster: embedded NATS did not start within 10 s (is the route listener's port free?)")
	}
	return &Embedded{srv: srv, token: token}, nil
}

// Connect returns a connection to the embedded server, in process.
func (e *Embedded) Connect(options ...nats.Option) (*nats.Conn, error) {
	options = append([]nats.Option{nats.InProcessServer(e.srv), nats.Token(e.token)}, options...)
	nc, err := nats.Connect("", options...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to the embedded NATS: %w", err)
	}
	return nc, nil
}

// RouteAddr returns the address the route listener listens on.
func (e *Embedded) RouteAddr() net.Addr { return e.srv.ClusterAddr() }

// Routes returns how many other servers this one is routed to now.
func (e *Embedded) Routes() int { return e.srv.NumRoutes() }

// Shutdown stops the server.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// ClientOptions are the NATS client options a node needs on any server:
// never give up reconnecting, and never buffer while disconnected (what
// cannot be sent is answered internal at once instead).
func ClientOptions(name string) []nats.Option {
	return []nats.Option{
		nats.Name(name),
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectBufSize(-1),
		nats.RetryOnFailedConnect(true),
	}
}
