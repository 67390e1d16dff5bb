package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/lambdaemu"
)

// rcFile is the client configuration serve writes when it generates a key.
const rcFile = ".monologuerc"

// serveConfig is the command line of serve.
type serveConfig struct {
	addr, adminAddr string
	// callbackRateLimit throttles the management listener (--callback-rate-limit).
	callbackRateLimit float64
	apiKeys           []string
	maxMessageSize    int
	idleTimeout       time.Duration
	maxConnectionAge  time.Duration
	rateLimit         float64
	tlsCert, tlsKey   string
	logLevel          slog.Level
	integration       integrationConfig
	// adminKeyID and adminSecret, when set, are the access key the
	// management listener requires AWS Signature Version 4 with; adminHosts
	// are more Host names it answers to.
	adminKeyID, adminSecret string
	adminHosts              []string
	cluster                 clusterConfig
	limits                  limitsConfig
}

// integrationConfig is what an integration needs from the command line.
type integrationConfig struct {
	// name is the --integration value: relay, lambda or bootstrap=PATH.
	name string
	// dynamoEndpoint and dynamoTable locate the Lambda integrations'
	// channel store (--dynamodb-endpoint, --dynamodb-table).
	dynamoEndpoint, dynamoTable string
	// adminURL is the management listener's base URL (http://HOST:PORT,
	// no trailing slash): the endpoint of API Gateway's @connections API
	// for an integration that posts back the way a Lambda would.
	adminURL string
	// publishKey is the key HTTP publish events carry to the function.
	publishKey     string
	maxMessageSize int
	logger         *slog.Logger

	// adminKeyID and adminSecret are the function's credentials, which it
	// signs its management API calls with (empty: a dummy pair).
	adminKeyID, adminSecret string

	// sqsEndpoint is the SQS server of the queued fan-out (--sqs-endpoint);
	// empty: every publish is inline. fanoutInlineMax (--fanout-inline-max),
	// callbackBudget (--callback-budget) and workerConcurrency
	// (--worker-concurrency) shape it.
	sqsEndpoint       string
	fanoutInlineMax   int
	callbackBudget    float64
	workerConcurrency int
}

// integrationFlags registers the flags of the integrations.
func integrationFlags(fs *flag.FlagSet, cfg *integrationConfig) {
	fs.StringVar(&cfg.name, "integration", "relay", "where events go: relay (in process, fastest), lambda (API Gateway event JSON into the Lambda handler in process), or bootstrap=PATH (the same through a built Lambda bootstrap, as child processes)")
	fs.StringVar(&cfg.sqsEndpoint, "sqs-endpoint", "", "SQS endpoint of the lambda and bootstrap integrations' queued fan-out, e.g. http://127.0.0.1:4100 (goaws); the integration creates the queue and polls it as Lambda's event source mapping would. Empty: every publish is delivered inline")
	fs.IntVar(&cfg.fanoutInlineMax, "fanout-inline-max", awslambda.DefaultFanoutInlineMax, "with --sqs-endpoint, the most members a publish delivers inline; larger channels go through the queue (0: every publish)")
	fs.Float64Var(&cfg.callbackBudget, "callback-budget", awslambda.DefaultCallbackBudget, "with --sqs-endpoint, the management API calls per second all fan-out workers together may make")
	fs.IntVar(&cfg.workerConcurrency, "worker-concurrency", 2, "with --sqs-endpoint, how many queue batches are in the function at once (the event source mapping's maximum concurrency)")
	fs.StringVar(&cfg.dynamoEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint of the lambda and bootstrap integrations, e.g. http://127.0.0.1:8000 (DynamoDB Local)")
	fs.StringVar(&cfg.dynamoTable, "dynamodb-table", "monologue", "DynamoDB table of channel subscriptions, created when missing")
}

// inlineMax turns --fanout-inline-max into LocalOptions.FanoutInlineMax,
// whose zero is the default and negative "every publish".
func inlineMax(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// lambdaStage is the API stage the Lambda integrations present.
const lambdaStage = "latest"

// newIntegration returns the gateway's Options.NewIntegration for
// cfg.name (nil selects the gateway's in-process relay). What the
// integration starts, the gateway's Shutdown stops.
func newIntegration(cfg integrationConfig) (build func(*gateway.Gateway) (gateway.Integration, error), err error) {
	kind, arg, hasArg := strings.Cut(cfg.name, "=")
	switch kind {
	case "relay":
		if hasArg {
			return nil, fmt.Errorf("integration relay takes no argument (got %q)", arg)
		}
		return nil, nil
	case "lambda", "bootstrap":
		if kind == "lambda" && hasArg {
			return nil, fmt.Errorf("integration lambda takes no argument (got %q); for a built binary use bootstrap=PATH", arg)
		}
		if kind == "bootstrap" && arg == "" {
			return nil, errors.New("integration bootstrap needs the binary: bootstrap=PATH (make lambda builds build/bootstrap for arm64; build one for this machine with go build -tags lambda.norpc ./cmd/monologue-lambda)")
		}
		if cfg.dynamoEndpoint == "" {
			return nil, fmt.Errorf("integration %s needs --dynamodb-endpoint (a DynamoDB-compatible server such as DynamoDB Local)", kind)
		}
		build = func(gw *gateway.Gateway) (gateway.Integration, error) {
			local, err := lambdaemu.StartLocal(context.Background(), gw, lambdaemu.LocalOptions{
				ManagementEndpoint: cfg.adminURL,
				Stage:              lambdaStage,
				DynamoDBEndpoint:   cfg.dynamoEndpoint,
				Table:              cfg.dynamoTable,
				PublishKey:         cfg.publishKey,
				MaxMessageSize:     cfg.maxMessageSize,
				Bootstrap:          arg,
				Logger:             cfg.logger,
				AccessKeyID:        cfg.adminKeyID,
				SecretAccessKey:    cfg.adminSecret,
				SQSEndpoint:        cfg.sqsEndpoint,
				FanoutInlineMax:    inlineMax(cfg.fanoutInlineMax),
				CallbackBudget:     cfg.callbackBudget,
				WorkerConcurrency:  cfg.workerConcurrency,
			})
			if err != nil {
				return nil, err
			}
			return local, nil
		}
		return build, nil
	}
	return nil, fmt.Errorf("unknown integration %q (want relay, lambda or bootstrap=PATH)", cfg.name)
}

// Environment variables that stand in for the management credentials' flags.
const (
	envAdminKeyID  = "MONOLOGUE_ADMIN_ACCESS_KEY_ID"
	envAdminSecret = "MONOLOGUE_ADMIN_SECRET_ACCESS_KEY"
)

// parseServeFlags parses serve's command line; getenv supplies the
// management credentials that no flag gives.
func parseServeFlags(args []string, getenv func(string) string, stderr io.Writer) (serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: monologue serve [flags]\n\nRun the gateway: WebSocket relay, @connections API and metrics.\n\nflags:")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "public listener: WebSocket, POST /channels/{channel}, /healthz (port 0: any free port)")
	fs.Float64Var(&cfg.callbackRateLimit, "callback-rate-limit", 0, "@connections requests per second the management listener accepts before answering 429, as API Gateway's account throttle (0: no limit)")
	fs.StringVar(&cfg.adminAddr, "admin-addr", "127.0.0.1:8081", "management listener: @connections API, /metrics, /healthz; keep it private (not loopback: needs --admin-access-key-id)")
	fs.StringVar(&cfg.adminKeyID, "admin-access-key-id", "", "access key ID the management listener requires AWS Signature Version 4 with (service execute-api, any region), with --admin-secret-access-key; default $"+envAdminKeyID+"; none: no signature required")
	fs.StringVar(&cfg.adminSecret, "admin-secret-access-key", "", "secret access key of --admin-access-key-id; prefer $"+envAdminSecret+", which other users cannot read in the process list")
	fs.Func("admin-host", "a Host name the management listener answers to besides its own address, HOST:PORT or HOST for any port (repeatable; * for any host)", func(host string) error {
		if host == "" {
			return errors.New("empty host")
		}
		cfg.adminHosts = append(cfg.adminHosts, host)
		return nil
	})
	fs.Func("api-key", "an accepted API key, one tenant per key (repeatable; none: generate one and write "+rcFile+")", func(key string) error {
		if key == "" {
			return errors.New("empty API key")
		}
		cfg.apiKeys = append(cfg.apiKeys, key)
		return nil
	})
	cfg.maxMessageSize = gateway.DefaultMaxMessageSize
	fs.Var(sizeFlag[int]{&cfg.maxMessageSize}, "max-message-size", "largest message either way, a `size` in bytes or such as 256KiB")
	fs.DurationVar(&cfg.idleTimeout, "idle-timeout", gateway.DefaultIdleTimeout, "close connections idle this long (0: never)")
	fs.DurationVar(&cfg.maxConnectionAge, "max-connection-age", gateway.DefaultMaxConnectionAge, "close connections this old (0: never)")
	fs.Float64Var(&cfg.rateLimit, "rate-limit", 0, "messages per second per connection, pings included (0: no limit)")
	fs.StringVar(&cfg.tlsCert, "tls-cert", "", "certificate file: serve wss:// on the public listener (with --tls-key)")
	fs.StringVar(&cfg.tlsKey, "tls-key", "", "private key file of --tls-cert")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	integrationFlags(fs, &cfg.integration)
	clusterFlags(fs, &cfg.cluster)
	limitFlags(fs, &cfg.limits)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, err
		}
		return cfg, exitError(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "serve takes no arguments (got %q)\n", fs.Args())
		return cfg, exitError(2)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		return cfg, fmt.Errorf("--log-level: %w", err)
	}
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		return cfg, errors.New("--tls-cert and --tls-key go together")
	}
	if cfg.maxMessageSize <= 0 {
		return cfg, errors.New("--max-message-size must be positive")
	}
	if err := cfg.limits.check(); err != nil {
		return cfg, err
	}
	if cfg.adminKeyID == "" {
		cfg.adminKeyID = getenv(envAdminKeyID)
	}
	if cfg.adminSecret == "" {
		cfg.adminSecret = getenv(envAdminSecret)
	}
	if (cfg.adminKeyID == "") != (cfg.adminSecret == "") {
		return cfg, errors.New("--admin-access-key-id and --admin-secret-access-key go together (or " + envAdminKeyID + " and " + envAdminSecret + ")")
	}
	if err := cfg.cluster.check(&cfg, getenv); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// runServe runs the gateway until ctx is cancelled, then shuts it down.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseServeFlags(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	if err := checkAdminExposure(cfg); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))

	publicListener, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.addr, err)
	}
	defer publicListener.Close()
	adminListener, err := net.Listen("tcp", cfg.adminAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.adminAddr, err)
	}
	defer adminListener.Close()
	scheme := "ws"
	if cfg.tlsCert != "" {
		scheme = "wss"
	}
	endpoint := scheme + "://" + dialAddr(publicListener.Addr()) + "/"
	adminURL := "http://" + dialAddr(adminListener.Addr())
	var rc *rcPlan // what was done about .monologuerc; nil with --api-key
	if len(cfg.apiKeys) == 0 {
		plan := planAPIKey(endpoint, rcFile)
		rc, cfg.apiKeys = &plan, []string{plan.key}
	}

	cfg.integration.adminURL, cfg.integration.logger = adminURL, logger
	cfg.integration.publishKey, cfg.integration.maxMessageSize = cfg.apiKeys[0], cfg.maxMessageSize
	cfg.integration.adminKeyID, cfg.integration.adminSecret = cfg.adminKeyID, cfg.adminSecret
	build, err := newIntegration(cfg.integration)
	if err != nil {
		return fmt.Errorf("--integration: %w", err)
	}
	if build != nil && len(cfg.apiKeys) > 1 {
		return errors.New("--integration lambda and bootstrap take one --api-key: API Gateway has no tenants")
	}
	opts := cfg.limits.apply(gateway.Options{
		MaxMessageSize:   cfg.maxMessageSize,
		IdleTimeout:      noneIfZero(cfg.idleTimeout),
		MaxConnectionAge: noneIfZero(cfg.maxConnectionAge),
		APIKeys:          cfg.apiKeys,
		Address:          endpoint,
		MessageRate:      cfg.rateLimit,
		Logger:           logger,
		NewIntegration:   build,

		AdminAccessKeyID:     cfg.adminKeyID,
		CallbackRateLimit:    cfg.callbackRateLimit,
		AdminSecretAccessKey: cfg.adminSecret,
		AdminHosts:           cfg.adminHosts,
	})
	if err := startCluster(ctx, &cfg.cluster, endpoint, &opts, logger); err != nil {
		return err
	}
	gw, err := gateway.New(opts)
	if err != nil {
		return err
	}

	if rc != nil {
		rc.apply(endpoint, rcFile)
	}
	fmt.Fprintf(stdout, "listening %s\n", endpoint)
	fmt.Fprintf(stdout, "dashboard %s/\n", adminURL)
	fmt.Fprintf(stdout, "admin %s/@connections/{id}, %s/api/ and %s/metrics\n", adminURL, adminURL, adminURL)
	if cfg.adminKeyID != "" {
		fmt.Fprintf(stdout, "management API requires AWS Signature Version 4 (service execute-api, any region) with access key ID %s\n", cfg.adminKeyID)
	}
	for _, key := range cfg.apiKeys {
		fmt.Fprintf(stdout, "api key %s\n", key)
	}
	if rc != nil {
		fmt.Fprintln(stdout, rc.message)
	}
	if build != nil {
		fmt.Fprintf(stdout, "integration %s: events go to the Lambda function as API Gateway JSON; channels in DynamoDB at %s, table %s\n", cfg.integration.name, cfg.integration.dynamoEndpoint, cfg.integration.dynamoTable)
	}
	fmt.Fprintf(stdout, "try: wscat -c %s -H \"x-api-key: %s\"\n", endpoint, cfg.apiKeys[0])

	return serveUntilDone(ctx, cfg, gw, publicListener, adminListener, logger)
}

// serveUntilDone serves both listeners until ctx ends or one fails, then
// shuts down (see shutdown): the public server first (no new handshakes),
// then the gateway's connections, then the admin server.
func serveUntilDone(ctx context.Context, cfg serveConfig, gw *gateway.Gateway, publicListener, adminListener net.Listener, logger *slog.Logger) error {
	public := gw.HTTPServer(gw.Handler()) // with the gateway's time limits on requests
	admin := gw.HTTPServer(gw.AdminHandler())
	failed := make(chan error, 2)
	go func() {
		var err error
		if cfg.tlsCert != "" {
			err = public.ServeTLS(publicListener, cfg.tlsCert, cfg.tlsKey)
		} else {
			err = public.Serve(gw.Listener(publicListener)) // upgrades answered by the event loops
		}
		failed <- fmt.Errorf("public listener: %w", err)
	}()
	go func() { failed <- fmt.Errorf("admin listener: %w", admin.Serve(adminListener)) }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-failed:
	}
	logger.Info("shutting down")
	err := errors.Join(serveErr, shutdown(cfg.limits.shutdownTimeout, gw, public, admin, logger))
	for range 2 - countSent(serveErr) {
		if e := <-failed; !errors.Is(e, http.ErrServerClosed) {
			err = errors.Join(err, e)
		}
	}
	return err
}

func countSent(err error) int {
	if err != nil {
		return 1
	}
	return 0
}

// dialAddr is addr as a client would dial it: an unspecified IP (0.0.0.0,
// ::) becomes 127.0.0.1.
func dialAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	host := tcp.IP.String()
	if tcp.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(tcp.Port))
}

// checkAdminExposure refuses a management listener without credentials on
// an address other than loopback, before anything listens: it can read,
// post to and close every connection. An empty or unspecified host (0.0.0.0,
// ::) is every interface, so not loopback.
func checkAdminExposure(cfg serveConfig) error {
	if cfg.adminKeyID != "" {
		return nil
	}
	addr, err := net.ResolveTCPAddr("tcp", cfg.adminAddr)
	if err != nil {
		return fmt.Errorf("--admin-addr %s: %w", cfg.adminAddr, err)
	}
	if addr.IP.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to serve the management listener on %s without credentials: "+
		"that is not a loopback address, and the listener can read, post to and close every connection. "+
		"Set --admin-access-key-id and --admin-secret-access-key (or %s and %s) so that it requires AWS Signature Version 4, "+
		"or keep --admin-addr on loopback (such as 127.0.0.1:8081) and reach it through a tunnel",
		cfg.adminAddr, envAdminKeyID, envAdminSecret)
}

// noneIfZero maps the command line's 0 (never) to the gateway's negative.
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// newAPIKey returns a random key of 192 bits.
func newAPIKey() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
