package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Defaults of [Options].
const (
	DefaultName              = "monologue"
	DefaultHeartbeatInterval = 500 * time.Millisecond
	DefaultRequestTimeout    = time.Second
)

// Local is what a node needs of the gateway it serves: delivering to, and
// managing, the connections it holds. *gateway.Gateway is one.
type Local interface {
	relay.Sender
	PostToConnection(ctx context.Context, connectionID string, data []byte) error
	Connection(connectionID string) (gateway.ConnectionInfo, bool)
	DeleteConnection(connectionID string) error
}

var _ Local = (*gateway.Gateway)(nil)

// Options configures a [Node]. Conn is required.
type Options struct {
	// Conn is the node's connection to NATS: to an external NATS server or
	// cluster, or to the node's own embedded server ([Embedded.Connect]).
	// The node does not close it.
	Conn *nats.Conn
	// Name separates clusters that share a NATS: the nodes of one cluster
	// have the same name. Letters, digits, '-' and '_'. Zero: DefaultName.
	Name string
	// HeartbeatInterval is how often the node tells the others it lives; a
	// node unheard of for three intervals is dead. Zero:
	// DefaultHeartbeatInterval (500 ms: dead after 1.5 s).
	HeartbeatInterval time.Duration
	// RequestTimeout bounds a management request to another node. Zero:
	// DefaultRequestTimeout (1 s).
	RequestTimeout time.Duration
	// MaxSubscriptionsPerConnection bounds the channels one connection may
	// join. Zero: channels.DefaultMaxPerConnection.
	MaxSubscriptionsPerConnection int
	// MaxNamesPerConnection bounds the names one connection may hold.
	// Zero: 64.
	MaxNamesPerConnection int
	// Address is the node's public address, reported to the other nodes
	// for introspection. Zero: none.
	Address string
	// Logger receives the node's warnings and errors. Nil: slog.Default().
	Logger *slog.Logger
}

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ErrBackbone is the error of an operation that needs another node while
// this node's NATS connection is down. It matches wire.ErrInternal.
var ErrBackbone = wire.NewError(wire.CodeInternal, "the cluster backbone is unreachable")

// The errors of a message to another node that may or may not have
// arrived, with NATS reachable: each says to the client what happened. As
// every internal error, they match ErrBackbone and wire.ErrInternal.
var (
	errLostInFlight = wire.NewError(wire.CodeInternal, "the node that holds the connection went away with the message in flight; it may have arrived")
	errNotBackYet   = wire.NewError(wire.CodeInternal, "the node that holds the connection has not answered since the cluster backbone came back")
)

// errNoAnswer is the error of a message to another node that went
// unanswered for d: it may have arrived.
func errNoAnswer(d time.Duration) error {
	return wire.NewError(wire.CodeInternal, "no answer within "+d.String()+" from the node that holds the connection; the message may have arrived")
}

// Node is one gateway node's membership of a cluster. It is safe for
// concurrent use.
type Node struct {
	opts    Options
	log     *slog.Logger
	nc      *nats.Conn
	prefix  string // "monologue.NAME."
	tag     wire.NodeTag
	idHead  string // the first characters of this node's connection IDs
	started time.Time

	// self is what onBeat knows of this node: heartbeats arrive on their
	// own goroutine from the start of join, before tag and started are set
	// and before Attach.
	self atomic.Pointer[selfBeat]

	local    Local        // set by Attach, before anything reads it
	counter  atomic.Value // func() int: the local connections, for heartbeats
	peers    *peers
	channels *Channels
	watchers *Channels
	names    *Names

	subs       []*nats.Subscription
	deliveries *nats.Subscription // this node's delivery subject
	inbound    chan *nats.Msg     // channel publications and cut answers, in order
	cuts       cuts
	pipe       *pipeline
	ctx        context.Context
	cancel     context.CancelFunc
	done       sync.WaitGroup

	closeOnce sync.Once
	beatMu    sync.Mutex // orders heartbeats before the goodbye
	saidBye   bool       // no heartbeat after the goodbye
}

// New joins the cluster: it draws a tag that no live node has, subscribes
// to what is sent to this node, and learns the live nodes. Call
// [Node.Attach] before the gateway serves, and [Node.Close] when it stops.
func New(ctx context.Context, opts Options) (*Node, error) {
	if opts.Conn == nil {
		return nil, errors.New("cluster: Options.Conn is required")
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if !validName.MatchString(opts.Name) {
		return nil, fmt.Errorf("cluster: name %q: use 1 to 64 letters, digits, '-' or '_'", opts.Name)
	}
	if opts.HeartbeatInterval <= 0 {
		opts.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = DefaultRequestTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	n := &Node{
		opts:    opts,
		log:     opts.Logger,
		nc:      opts.Conn,
		prefix:  "monologue." + opts.Name + ".",
		inbound: make(chan *nats.Msg, inboundBuffer),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	n.peers = newPeers(3 * opts.HeartbeatInterval)
	if err := n.join(ctx); err != nil {
		n.cancel()
		n.unsubscribe()
		return nil, err
	}
	if err := n.subscribeCuts(); err != nil {
		n.cancel()
		n.unsubscribe()
		return nil, fmt.Errorf("cluster: subscribe to cut answers: %w", err)
	}
	n.pipe = newPipeline(n)
	n.channels = newChannels(n, "c.", opts.MaxSubscriptionsPerConnection)
	n.watchers = newChannels(n, "w.", opts.MaxSubscriptionsPerConnection)
	n.names = newNames(n, opts.MaxNamesPerConnection)
	if err := n.channels.start(); err != nil {
		n.Close()
		return nil, err
	}
	if err := n.names.start(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// inboundBuffer bounds the publications a node has received but not yet
// fanned out; past it NATS drops (and counts) the excess, as a full send
// queue does on one node.
const inboundBuffer = 1 << 16

// Tag returns the node's tag, which begins each of its connection IDs.
func (n *Node) Tag() wire.NodeTag { return n.tag }

// NewConnectionID returns a new connection ID of this node, for
// gateway.Options.NewConnectionID.
func (n *Node) NewConnectionID() string { return wire.NewConnectionIDOn(n.tag) }

// Attach gives the node the gateway whose connections it holds, starts
// serving what other nodes send it, and announces the node. Call it once,
// from the gateway's NewIntegration, before the gateway serves.
func (n *Node) Attach(local Local) error {
	n.local = local
	if c, ok := local.(interface{ ConnectionCount() int }); ok {
		n.counter.Store(c.ConnectionCount)
	}
	var err error
	n.deliveries, err = n.nc.Subscribe(n.deliverSubject(n.tag), n.onDeliver)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to deliveries: %w", err)
	}
	n.subs = append(n.subs, n.deliveries)
	if err := n.pipe.start(); err != nil {
		return err
	}
	n.self.Store(&selfBeat{tag: n.tag, started: n.started, attached: true})
	manage, err := n.nc.Subscribe(n.manageSubject(n.tag), n.onManage)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to management requests: %w", err)
	}
	n.subs = append(n.subs, manage)
	// Tell the others at once, so that they reach this node's first
	// connections without waiting for a heartbeat.
	if err := n.nc.Publish(n.prefix+subjectHeartbeat, n.beatMessage()); err != nil {
		return fmt.Errorf("cluster: announce: %w", err)
	}
	if err := n.nc.FlushTimeout(n.opts.RequestTimeout); err != nil {
		return fmt.Errorf("cluster: announce: %w", err)
	}
	status := n.nc.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED)
	n.done.Go(n.serveInbound)
	n.done.Go(n.heartbeat)
	n.done.Go(func() { n.watchConnection(status) })
	return nil
}

// Sender returns the relay's Sender for this node: local connections
// through the gateway, others through their node.
func (n *Node) Sender() relay.Sender { return (*sender)(n) }

// Channels returns the node's channel store: memberships of local
// connections, publications to every node with members, presence across
// every node.
func (n *Node) Channels() *Channels { return n.channels }

// Watchers returns the node's store of presence subscriptions.
func (n *Node) Watchers() *Channels { return n.watchers }

// Names returns the node's name store.
func (n *Node) Names() *Names { return n.names }

// Close leaves the cluster: it tells the other nodes, so that they answer
// gone for this node's connections at once, and stops receiving. Close the
// gateway's connections first. Calling Close again does nothing.
func (n *Node) Close() error {
	var err error
	n.closeOnce.Do(func() {
		n.beatMu.Lock()
		n.saidBye = true // a heartbeat after it would bring the node back
		if n.nc.IsConnected() {
			err = n.nc.Publish(n.prefix+subjectBye, []byte(n.tag.String()))
		}
		n.beatMu.Unlock()
		if err == nil && n.nc.IsConnected() {
			err = n.nc.FlushTimeout(n.opts.RequestTimeout)
		}
		n.unsubscribe()
		n.cancel()
		n.done.Wait()
	})
	if err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}

// connected reports whether the node can reach the others now.
func (n *Node) connected() bool { return n.nc.IsConnected() }

// isLocal reports whether connectionID was issued by this node.
func (n *Node) isLocal(connectionID string) bool {
	return strings.HasPrefix(connectionID, n.idHead)
}

// Subjects, after the cluster's prefix.
const (
	subjectHeartbeat = "hb"    // every node's heartbeats
	subjectHello     = "hello" // a joining node's roll call
	subjectBye       = "bye"   // a node that leaves
	subjectSync      = "sync"  // a barrier: every node answers
)

func (n *Node) deliverSubject(t wire.NodeTag) string { return n.prefix + "n." + t.String() + ".d" }
func (n *Node) manageSubject(t wire.NodeTag) string  { return n.prefix + "n." + t.String() + ".m" }

func (n *Node) unsubscribe() {
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.subs = nil
}

// serveInbound hands channel publications from other nodes to the local
// members, in the order they arrived.
func (n *Node) serveInbound() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case m := <-n.inbound:
			if n.isCutAnswer(m) {
				n.onCutAnswer(m.Subject)
			} else if strings.HasPrefix(m.Subject, n.prefix+n.watchers.kind) {
				n.watchers.fanOut(m.Subject, m.Data)
			} else {
				n.channels.fanOut(m.Subject, m.Data)
			}
		}
	}
}
