package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/gateway"
)

// clusterConfig is the cluster part of serve's command line.
type clusterConfig struct {
	// nats are the URLs of an existing NATS server or cluster (--nats).
	nats                      []string
	natsCreds, natsToken      string
	natsCA, natsCert, natsKey string
	// listen and peers run an embedded NATS server routed to the peers'
	// (--cluster-listen, --cluster-peers).
	listen string
	peers  []string
	name   string
	secret string
}

// Environment variables for the secrets no flag should carry.
const (
	envNATSToken     = "MONOLOGUE_NATS_TOKEN"
	envClusterSecret = "MONOLOGUE_CLUSTER_SECRET"
)

func (c *clusterConfig) enabled() bool { return len(c.nats) > 0 || c.listen != "" }

func clusterFlags(fs *flag.FlagSet, c *clusterConfig) {
	list := func(dst *[]string) func(string) error {
		return func(v string) error {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					*dst = append(*dst, item)
				}
			}
			return nil
		}
	}
	fs.Func("nats", "cluster mode through an existing NATS: its URLs, nats://HOST:PORT[,…] (repeatable)", list(&c.nats))
	fs.StringVar(&c.natsCreds, "nats-creds", "", "NATS credentials file (JWT and NKey seed) for --nats")
	fs.StringVar(&c.natsToken, "nats-token", "", "NATS token for --nats; prefer $"+envNATSToken)
	fs.StringVar(&c.natsCA, "nats-tls-ca", "", "CA certificate file that signs the NATS server's certificate (--nats over TLS)")
	fs.StringVar(&c.natsCert, "nats-tls-cert", "", "client certificate file for NATS over TLS (with --nats-tls-key)")
	fs.StringVar(&c.natsKey, "nats-tls-key", "", "private key file of --nats-tls-cert")
	fs.StringVar(&c.listen, "cluster-listen", "", "cluster mode with nothing but this binary: HOST:PORT where this node's embedded NATS takes routes from the other nodes")
	fs.Func("cluster-peers", "the other nodes' --cluster-listen addresses, HOST:PORT[,…] (repeatable)", list(&c.peers))
	fs.StringVar(&c.name, "cluster-name", cluster.DefaultName, "name that separates clusters sharing a NATS")
	fs.StringVar(&c.secret, "cluster-secret", "", "secret every route of --cluster-listen must present; prefer $"+envClusterSecret)
}

// check validates the cluster flags together with the rest of serve's.
func (c *clusterConfig) check(cfg *serveConfig, getenv func(string) string) error {
	if c.natsToken == "" {
		c.natsToken = getenv(envNATSToken)
	}
	if c.secret == "" {
		c.secret = getenv(envClusterSecret)
	}
	switch {
	case !c.enabled():
		if len(c.peers) > 0 {
			return errors.New("--cluster-peers needs --cluster-listen")
		}
		return nil
	case len(c.nats) > 0 && c.listen != "":
		return errors.New("--nats and --cluster-listen are two ways to run a cluster: choose one")
	case (c.natsCert == "") != (c.natsKey == ""):
		return errors.New("--nats-tls-cert and --nats-tls-key go together")
	case cfg.integration.name != "relay":
		return errors.New("cluster mode runs the relay in process: it does not combine with --integration " + cfg.integration.name)
	case len(cfg.apiKeys) == 0:
		return errors.New("cluster mode needs --api-key: every node must accept the same keys, so none can be generated")
	}
	return nil
}

// startCluster joins the cluster the flags describe and configures opts to
// be a node of it; the gateway's Shutdown leaves the cluster and stops
// what was started. With no cluster flags it does nothing.
func startCluster(ctx context.Context, c *clusterConfig, address string, opts *gateway.Options, logger *slog.Logger) error {
	if !c.enabled() {
		return nil
	}
	clientOptions := cluster.ClientOptions("monologue " + address)
	var nc *nats.Conn
	var closers []func() error
	if c.listen != "" {
		embedded, err := cluster.StartEmbedded(cluster.EmbeddedOptions{Name: c.name, Listen: c.listen, Peers: c.peers, Secret: c.secret})
		if err != nil {
			return err
		}
		if nc, err = embedded.Connect(clientOptions...); err != nil {
			embedded.Shutdown()
			return err
		}
		closers = append(closers, func() error { nc.Close(); return nil }, func() error { embedded.Shutdown(); return nil })
		logger.Info("cluster: embedded NATS", "routes", c.listen, "peers", strings.Join(c.peers, ","), "name", c.name)
	} else {
		if c.natsCreds != "" {
			clientOptions = append(clientOptions, nats.UserCredentials(c.natsCreds))
		}
		if c.natsToken != "" {
			clientOptions = append(clientOptions, nats.Token(c.natsToken))
		}
		if c.natsCA != "" {
			clientOptions = append(clientOptions, nats.RootCAs(c.natsCA))
		}
		if c.natsCert != "" {
			clientOptions = append(clientOptions, nats.ClientCert(c.natsCert, c.natsKey))
		}
		var err error
		if nc, err = nats.Connect(strings.Join(c.nats, ","), clientOptions...); err != nil {
			return fmt.Errorf("connect to NATS %s: %w", strings.Join(c.nats, ","), err)
		}
		closers = append(closers, func() error { nc.Close(); return nil })
		logger.Info("cluster: through NATS", "servers", strings.Join(c.nats, ","), "name", c.name)
	}
	node, err := cluster.New(ctx, cluster.Options{
		Conn:                          nc,
		Name:                          c.name,
		Address:                       address,
		MaxSubscriptionsPerConnection: opts.MaxSubscriptionsPerConnection,
		MaxNamesPerConnection:         opts.MaxNamesPerConnection,
		Logger:                        logger,
	})
	if err != nil {
		for _, stop := range closers {
			_ = stop()
		}
		return err
	}
	node.Configure(opts, closers...)
	logger.Info("cluster: joined", "node", node.Tag().String(), "live_nodes", len(node.Nodes()))
	if gc := clusterGCPercent(); gc > 0 {
		logger.Debug("cluster: garbage collection target", "gogc", gc)
	}
	return nil
}

// clusterGC is the GOGC a cluster node runs with when the environment sets
// none. A node's NATS client and embedded server allocate a buffer for
// every message they pass, where the relay on its own allocates almost
// nothing per message; with Go's default of 100 and the small live heap of
// a node, that garbage starts a collection every few megabytes, and
// collection took an eighth of a node's CPU in the cluster benchmark
// (BENCHMARKS.md). At 400 the heap may grow to five times what is live
// before a collection, instead of twice: a few tens of megabytes more for
// a node of tens of thousands of connections. GOGC (and GOMEMLIMIT, which
// caps the heap whatever GOGC says) in the environment choose otherwise.
const clusterGC = 400

// clusterGCPercent sets the garbage collector's target to clusterGC unless
// GOGC is set, and returns the target it set (0: none).
func clusterGCPercent() int {
	if _, set := os.LookupEnv("GOGC"); set {
		return 0
	}
	debug.SetGCPercent(clusterGC)
	return clusterGC
}
