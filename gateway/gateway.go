package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/names"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Gateway is the WebSocket server. Its connection table is a relay.Sender.
// Create it with [New], serve [Gateway.Handler] on the
// public listener and [Gateway.AdminHandler] on the management one, and stop
// it with [Gateway.Shutdown].
type Gateway struct {
	opts        Options
	log         *slog.Logger
	keys        keyring
	integration Integration
	metrics     *metrics
	conns       *table
	admission   *admission
	callbacks   atomic.Pointer[callbackThrottle] // nil: @connections calls are not throttled

	// ctx is the context of integration calls made outside an HTTP request;
	// cancel ends it when Shutdown gives up waiting. batchCtx is ctx marked
	// for a reader that has more messages buffered (see Send).
	ctx      context.Context
	cancel   context.CancelFunc
	batchCtx context.Context

	// lifecycle orders registration against Shutdown: a connection is
	// registered (and counted in running) under the read lock only while
	// closing is false.
	lifecycle sync.RWMutex
	closing   bool
	running   sync.WaitGroup // one per registered connection's reader goroutine

	closeIntegration sync.Once // in Shutdown

	public http.Handler
	admin  http.Handler

	insight *insight // the introspection API's state

	loops     loops     // event loops for plain-TCP connections
	loopsOnce sync.Once // starts them
	stopOnce  sync.Once // stops them
}

var _ relay.Sender = (*Gateway)(nil)

// New returns a Gateway configured by opts, with its integration built.
func New(opts Options) (*Gateway, error) {
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gateway: register metrics: %w", err)
	}
	g := &Gateway{
		opts:    opts,
		log:     opts.Logger,
		keys:    newKeyring(opts.APIKeys),
		metrics: m,
		conns:   newTable(),
	}
	g.admission = newAdmission(&g.opts)
	g.insight = newInsight(g)
	g.SetCallbackRateLimit(opts.CallbackRateLimit)
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.batchCtx = context.WithValue(g.ctx, batchKey{}, true)
	newIntegration := opts.NewIntegration
	if newIntegration == nil {
		newIntegration = defaultIntegration
	}
	g.integration, err = newIntegration(g)
	if err != nil {
		return nil, fmt.Errorf("gateway: build integration: %w", err)
	}
	if g.integration == nil {
		return nil, fmt.Errorf("gateway: NewIntegration returned no integration")
	}
	g.loops.n = loopCount(&g.opts, g.integration)
	g.public = g.publicMux()
	g.admin = g.adminMux()
	return g, nil
}

// defaultIntegration is the in-process relay over in-memory stores.
func defaultIntegration(g *Gateway) (Integration, error) {
	opts := g.RelayOptions()
	mem := channels.NewMemory(g.opts.MaxSubscriptionsPerConnection)
	opts.Channels = mem
	opts.Watchers = channels.NewMemory(g.opts.MaxSubscriptionsPerConnection)
	held := names.NewMemory(g.opts.MaxNamesPerConnection)
	opts.Names = held
	return memoryIntegration{Relay: relay.New(opts), Memory: mem, names: held}, nil
}

// RelayOptions returns relay options wired to this gateway: the gateway as
// Sender, its logger, message size limit and error metrics. Channels is left for the caller to set. It
// is how a NewIntegration that runs the relay in process with another store
// (or another Sender, in a cluster) starts.
func (g *Gateway) RelayOptions() relay.Options {
	opts := relay.Options{
		Sender:         g,
		Logger:         g.log,
		MaxMessageSize: g.opts.MaxMessageSize,
		OnError:        g.CountError,
	}
	return opts
}

// CountError counts one error frame with the given code in the errors
// metric. The default integration calls it for every error it answers.
func (g *Gateway) CountError(code wire.Code) { g.metrics.countError(code) }

// RegisterMetrics adds c to the registry of the gateway's own metrics
// (Options.Registerer, or the gateway's), so that GET /metrics serves it
// with them: for an integration's metrics.
func (g *Gateway) RegisterMetrics(c prometheus.Collector) error {
	if err := g.metrics.registerer.Register(c); err != nil {
		return fmt.Errorf("gateway: register metrics: %w", err)
	}
	return nil
}

// Handler returns the public listener's handler: the WebSocket at "/" and
// "/{stage}", POST /channels/{channel} and GET /healthz.
func (g *Gateway) Handler() http.Handler { return g.public }

// AdminHandler returns the management listener's handler: API Gateway's
// @connections API (with or without a stage prefix), the introspection
// API under /api/, the dashboard at GET /, GET /metrics and GET /healthz.
// Serve it on a listener that is not public.
func (g *Gateway) AdminHandler() http.Handler { return g.admin }

// Send delivers d.Frame as a text frame to connection d.To: to an idle
// connection it is written at once, and otherwise queued for the
// connection's writer goroutine. It never blocks: it returns an error
// matching wire.ErrGone when the connection does not exist or is closing,
// wire.ErrForbidden when it belongs to a tenant other than d.Tenant,
// wire.ErrPayloadTooLarge when the frame is over MaxMessageSize, and
// wire.ErrRateLimited (counted as a drop) when the connection's send queue
// is full, or when the frame would have to wait in it while the queues of
// all connections hold MaxQueuedBytes. The frame is copied.
func (g *Gateway) Send(ctx context.Context, d relay.Delivery) error {
	c := g.conns.get(d.To)
	if c == nil {
		return goneError(d.To)
	}
	if c.tenant != d.Tenant {
		return relay.ErrOtherTenant(d.To)
	}
	return g.post(ctx, c, d.Frame)
}

// PostToConnection sends data as a text frame to the connection, whatever
// its tenant, as the management API's PostToConnection does; errors are
// those of [Gateway.Send].
func (g *Gateway) PostToConnection(ctx context.Context, connectionID string, data []byte) error {
	c := g.conns.get(connectionID)
	if c == nil {
		return goneError(connectionID)
	}
	return g.post(ctx, c, data)
}

func (g *Gateway) post(ctx context.Context, c *conn, data []byte) error {
	if len(data) > g.opts.MaxMessageSize {
		return wire.NewError(wire.CodePayloadTooLarge, fmt.Sprintf("frame of %d bytes exceeds %d bytes", len(data), g.opts.MaxMessageSize))
	}
	return c.send(ctx, data)
}

// MoreToFollow returns ctx marked so that a frame sent under it is queued
// for its connection's writer, which writes it together with the frames
// that follow, instead of being written at once: for a caller that has
// more deliveries to make right away (a node handing on a batch that
// arrived from another node).
func MoreToFollow(ctx context.Context) context.Context {
	return context.WithValue(ctx, batchKey{}, true)
}

// MoreFollows reports whether frames sent under ctx wait for a later write
// with others: ctx is marked by MoreToFollow or a Batch, is an event
// loop's, or is that of a message its connection's reader handles with
// more right behind it.
func MoreFollows(ctx context.Context) bool { return ctx.Value(batchKey{}) != nil }

// AtRoundEnd arranges for fn to run on the event loop whose context ctx
// is, once it has handled the frames of its round, before it writes the
// frames the round queued. It reports false, arranging nothing, when ctx
// is not an event loop's (see Options.EventLoops). A Sender that holds
// what it sends under MoreFollows for one later write uses it to write once
// per round, on the loop, instead of waking a goroutine of its own. fn must
// not wait.
func AtRoundEnd(ctx context.Context, fn func()) bool {
	l, ok := ctx.Value(batchKey{}).(*loop)
	if !ok || l == nil {
		return false
	}
	l.roundEnd = append(l.roundEnd, fn)
	return true
}

// batchKey marks the context of a message that more messages from the same
// reader follow at once. Frames sent under it are queued for the writer
// goroutine, which runs once the reader has handled them all and writes
// them together; other frames to an idle connection are written at once.
type batchKey struct{}

// ConnectionCount returns how many connections are open on this gateway.
func (g *Gateway) ConnectionCount() int { return g.conns.len() }

// MaxMessageSize returns the largest frame the gateway delivers.
func (g *Gateway) MaxMessageSize() int { return g.opts.MaxMessageSize }

// TenantOf returns the tenant of a connection; ok is false when it does not
// exist. Only this gateway can answer it for its own connections, which is
// why deliveries carry the sender's tenant instead of the relay asking.
func (g *Gateway) TenantOf(connectionID string) (tenant string, ok bool) {
	c := g.conns.get(connectionID)
	if c == nil {
		return "", false
	}
	return c.tenant, true
}

// ConnectionInfo describes an open connection, as the management API's
// GetConnection reports it.
type ConnectionInfo struct {
	ID           string
	ConnectedAt  time.Time
	LastActiveAt time.Time
	SourceIP     string
	UserAgent    string
	// Tenant tells the connection's tenant apart from others; it is
	// derived from the whole API key and must not be shown.
	Tenant string
	// TenantLabel names the tenant in logs and pages ("key-2", or
	// "default" with one key) and reveals nothing of its key.
	TenantLabel string
	// Stage is the first path segment of the handshake URL ("" for "/").
	Stage string
}

// Connection returns what is known about an open connection; ok is false
// when it does not exist or is closing.
func (g *Gateway) Connection(connectionID string) (info ConnectionInfo, ok bool) {
	c := g.conns.get(connectionID)
	if c == nil || c.isClosing() {
		return info, false
	}
	return ConnectionInfo{
		ID:           c.id,
		ConnectedAt:  time.Unix(0, c.connectedAt),
		LastActiveAt: time.Unix(0, c.lastActive.Load()),
		SourceIP:     c.sourceIP,
		UserAgent:    c.userAgent,
		Tenant:       c.tenant,
		TenantLabel:  g.keys.label(c.tenant),
		Stage:        c.stage,
	}, true
}

// DeleteConnection closes a connection with status 1000, as the management
// API's DeleteConnection does, after the frames already queued for it. It
// returns an error matching wire.ErrGone when the connection does not exist
// or is already closing.
func (g *Gateway) DeleteConnection(connectionID string) error {
	c := g.conns.get(connectionID)
	if c == nil || !c.requestClose(closeNormal, "connection deleted") {
		return goneError(connectionID)
	}
	return nil
}

// Shutdown stops accepting connections, closes every connection with status
// 1001, waits for their goroutines and $disconnect events, and then closes
// the integration when it is an [io.Closer] (one that holds resources: child
// processes, a cluster connection). When ctx ends first, it drops the
// remaining sockets, cancels the integration's context, closes the
// integration and returns ctx.Err(). Shut the http.Servers down first, so
// that no handshake is in flight. Calling it again waits again, and does not
// close the integration twice.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.lifecycle.Lock()
	g.closing = true
	g.lifecycle.Unlock()
	g.conns.each(func(c *conn) { c.requestClose(closeGoingAway, "server shutting down") })
	done := make(chan struct{})
	go func() {
		g.running.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
		g.stopLoops()
	case <-ctx.Done():
		g.conns.each(func(c *conn) { c.breakSocket() })
		g.cancel()
		select {
		case <-done:
			g.stopLoops()
		case <-time.After(100 * time.Millisecond):
			err = fmt.Errorf("gateway: shutdown: %w", ctx.Err())
			go func() { // the loops wake the goroutines still ending
				<-done
				g.stopLoops()
			}()
		}
	}
	g.cancel()
	g.closeIntegration.Do(func() {
		if closer, ok := g.integration.(io.Closer); ok {
			if cerr := closer.Close(); cerr != nil {
				err = errors.Join(err, fmt.Errorf("gateway: close integration: %w", cerr))
			}
		}
	})
	return err
}

// register adds c to the table and counts its reader goroutine, unless the
// gateway is shutting down.
func (g *Gateway) register(c *conn) bool {
	g.lifecycle.RLock()
	defer g.lifecycle.RUnlock()
	if g.closing {
		return false
	}
	g.running.Add(1)
	g.conns.add(c)
	g.metrics.connections.Inc()
	g.metrics.opened.Inc()
	return true
}

func (g *Gateway) shuttingDown() bool {
	g.lifecycle.RLock()
	defer g.lifecycle.RUnlock()
	return g.closing
}

func goneError(connectionID string) error {
	return wire.NewError(wire.CodeGone, "no connection "+string(wire.AppendString(nil, connectionID)))
}
