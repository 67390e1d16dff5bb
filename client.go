package monologue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/wire"
)

// Client is a connection to a monologue gateway: it has a connection ID
// that peers use to reach it, answers the methods registered with Handle,
// and calls, messages and publishes to others. It is safe for concurrent
// use. Create one with [Dial]; release it with Close.
type Client struct {
	opts   Options
	log    *slog.Logger
	dialer ws.Dialer

	// ctx is cancelled by Close; handlers and reconnection run under it.
	ctx    context.Context
	cancel context.CancelFunc
	closed chan struct{}

	conn atomic.Pointer[connection] // the current connection

	nextID    atomic.Uint64 // tokens of calls and ids of frames
	pendingMu sync.Mutex
	pending   map[uint64]pendingOp // answers awaited, by token or frame id

	handlersMu sync.Mutex                          // serializes Handle
	handlers   atomic.Pointer[map[string]*handler] // copy on write
	slots      chan struct{}                       // one per running handler

	chunks chunkState // chunked transfers, both ways

	subscriptionsMu sync.Mutex
	subscriptions   map[string]bool // channels to subscribe again on reconnection -> with presence
	names           map[string]bool // names to claim again on reconnection -> exclusively

	events  chan event // for the OnMessage goroutine
	dropped atomic.Uint64

	closeOnce  sync.Once
	supervisor sync.WaitGroup

	// done is closed when the client stops for good; err says why (set
	// before done is closed).
	done chan struct{}
	err  error
}

// Dial connects to the gateway and learns the connection ID. opts may be
// nil: the endpoint and API key then come from the environment or
// .monologuerc (see [LoadConfig]), as they do for any of the two left empty.
//
// A wrong or missing API key fails with an error matching ErrForbidden.
// ctx bounds the connection and the handshake (Options.CallTimeout when ctx
// has no deadline); it is not used after Dial returns.
func Dial(ctx context.Context, opts *Options) (*Client, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	for k, v := range o.HTTPHeader {
		header[k] = append([]string(nil), v...)
	}
	if o.APIKey != "" {
		header.Set("x-api-key", o.APIKey)
	}
	if header.Get("User-Agent") == "" {
		header.Set("User-Agent", "monologue-go")
	}
	c := &Client{
		opts: o,
		log:  o.Logger,
		dialer: ws.Dialer{
			Header:    ws.HandshakeHeaderHTTP(header),
			TLSConfig: o.TLSConfig,
			NetDial:   o.NetDial,
		},
		closed:        make(chan struct{}),
		done:          make(chan struct{}),
		pending:       make(map[uint64]pendingOp),
		slots:         make(chan struct{}, o.MaxConcurrentHandlers),
		subscriptions: make(map[string]bool),
		names:         make(map[string]bool),
		events:        make(chan event, o.MessageBuffer),
	}
	c.handlers.Store(&map[string]*handler{})
	c.ctx, c.cancel = context.WithCancel(context.Background())
	cn, err := c.dial(ctx)
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.conn.Store(cn)
	c.supervisor.Add(1)
	go c.supervise(cn)
	go c.dispatchEvents()
	if o.Name != "" {
		var options []ClaimOption
		if o.NameExclusive {
			options = append(options, Exclusive())
		}
		if err := c.Claim(ctx, o.Name, options...); err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	return c, nil
}

// ID returns the client's connection ID, which peers use to call or message
// it. It changes when the client reconnects.
func (c *Client) ID() string {
	return c.conn.Load().id
}

// DroppedMessages returns how many messages were dropped because OnMessage
// did not keep up (see Options.OnMessage).
func (c *Client) DroppedMessages() uint64 {
	return c.dropped.Load()
}

// Done returns a channel that is closed when the client stops for good:
// after Close, when the connection drops without Options.Reconnect, or when
// the gateway refuses a reconnection for good (HTTP 403: the API key is no
// longer accepted, which retrying cannot change). Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns nil until Done is closed, then why the client stopped: an
// error matching ErrClosed after Close, else one matching ErrDisconnected
// (and ErrForbidden when a reconnection was refused).
func (c *Client) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close closes the connection (with a closing handshake bounded to about a
// second), fails the operations in flight with ErrClosed, cancels the
// context of running handlers and stops the client's goroutines. It does not
// wait for handlers or OnMessage to return. It is safe to call several
// times, from several goroutines; it always returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		c.cancel()
		cn := c.conn.Load()
		if cn.inOnError.Load() {
			// Close was (most likely) called from OnError, on the reader
			// of cn, which cannot end before it returns: close without
			// waiting. supervise fails what is pending once cn is done.
			go cn.close()
			return
		}
		cn.close()
		c.supervisor.Wait()
		c.failPending(ErrClosed)
	})
	return nil
}

// isClosed reports whether Close has been called.
func (c *Client) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// supervise waits for the connection to end, fails what was in flight and,
// with Options.Reconnect, dials again. When it returns the client has
// stopped for good: it sets err and closes done.
func (c *Client) supervise(cn *connection) {
	defer c.supervisor.Done()
	c.err = ErrClosed
	defer close(c.done)
	for {
		<-cn.done
		if c.isClosed() {
			c.failPending(ErrClosed)
			return
		}
		c.failPending(disconnected(cn.err))
		if !c.opts.Reconnect {
			c.log.Warn("monologue: connection lost", "id", cn.id, "error", cn.err)
			c.err = disconnected(cn.err)
			return
		}
		c.log.Info("monologue: connection lost, reconnecting", "id", cn.id, "error", cn.err)
		var refused error
		if cn, refused = c.reconnect(); cn == nil {
			if refused != nil {
				c.err = refused
				c.failPending(refused)
			}
			return
		}
	}
}

// Backoff between reconnection attempts.
const (
	reconnectMinWait = 100 * time.Millisecond
	reconnectMaxWait = 10 * time.Second
)

// reconnect dials until it succeeds, the client is closed (nil, nil), or
// the gateway refuses for good (nil and why: a 403, a key it no longer
// accepts, which retrying cannot mend). It subscribes the channels again
// before telling OnReconnect.
func (c *Client) reconnect() (*connection, error) {
	wait := reconnectMinWait
	for attempt := 1; ; attempt++ {
		// The first attempt waits too, with jitter, so that the clients of a
		// gateway that restarts do not all come back at the same instant.
		delay := wait/2 + rand.N(wait)
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-c.closed:
			timer.Stop()
			return nil, nil
		}
		wait = min(wait*2, reconnectMaxWait)
		cn, err := c.dial(c.ctx)
		if err != nil {
			if c.isClosed() {
				return nil, nil
			}
			if errors.Is(err, ErrForbidden) {
				return nil, c.refused(err)
			}
			c.log.Warn("monologue: reconnection failed", "attempt", attempt, "error", err)
			continue
		}
		c.conn.Store(cn)
		if c.isClosed() { // Close may have loaded the old connection
			cn.close()
			return nil, nil
		}
		c.resubscribe(cn)
		c.log.Info("monologue: reconnected", "id", cn.id, "attempts", attempt)
		if c.opts.OnReconnect != nil {
			select {
			case c.events <- event{reconnected: cn.id}:
			case <-c.closed:
			}
		}
		return cn, nil
	}
}

// refused reports a reconnection the gateway refused for good: logged at
// level Error and handed to OnError (on the goroutine of OnMessage, so that
// it may call Close), and then the client's Err.
func (c *Client) refused(err error) error {
	err = fmt.Errorf("%w: the gateway refused to reconnect; not retrying: %w", ErrDisconnected, err)
	c.log.Error("monologue: reconnection refused for good", "error", err)
	if c.opts.OnError != nil {
		select {
		case c.events <- event{failed: err}:
		case <-c.closed:
		}
	}
	return err
}

// resubscribe subscribes the new connection to the channels of the old one
// (with presence events where they had them) and claims its names again.
func (c *Client) resubscribe(cn *connection) {
	c.subscriptionsMu.Lock()
	channels := make(map[string]bool, len(c.subscriptions))
	for channel, presence := range c.subscriptions {
		channels[channel] = presence
	}
	names := make(map[string]bool, len(c.names))
	for name, exclusive := range c.names {
		names[name] = exclusive
	}
	c.subscriptionsMu.Unlock()
	var wg sync.WaitGroup
	for channel, presence := range channels {
		wg.Go(func() {
			if err := c.subscription(c.ctx, cn, "subscribe", channel, presence); err != nil {
				c.log.Error("monologue: subscribe again after reconnecting", "channel", channel, "error", err)
			}
		})
	}
	for name, exclusive := range names {
		wg.Go(func() {
			if err := c.claim(c.ctx, cn, name, exclusive); err != nil {
				c.log.Error("monologue: claim again after reconnecting", "name", name, "error", err)
			}
		})
	}
	wg.Wait()
}

// current returns the connection to use, or why there is none.
func (c *Client) current() (*connection, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	if err := c.Err(); err != nil {
		return nil, err
	}
	return c.conn.Load(), nil
}

// reply is what a pending operation receives: a call's raw return value,
// or an error.
type reply struct {
	ret  []byte
	err  error
	from string // the peer that answered; "" for the gateway
}

// pendingOp is an operation waiting for its reply on ch. peer is the
// callee of a call: only its ACK or ERR answers the call (any peer can send
// an RPC reply with a guessed token). It is "" for the operations only the
// gateway answers (Ping, Subscribe, Unsubscribe).
type pendingOp struct {
	ch   chan reply
	peer string
}

func (c *Client) addPending(id uint64, peer string, ch chan reply) {
	c.pendingMu.Lock()
	c.pending[id] = pendingOp{ch: ch, peer: peer}
	c.pendingMu.Unlock()
}

// removePending forgets id; it reports false when a reply already took it.
func (c *Client) removePending(id uint64) bool {
	c.pendingMu.Lock()
	_, ok := c.pending[id]
	delete(c.pending, id)
	c.pendingMu.Unlock()
	return ok
}

// complete hands r to the operation waiting for id, if any. from is the
// peer that sent r, or "" for the gateway: an RPC reply (from a peer)
// answers only a call made to that peer, since any peer can send a reply
// with a guessed token; a call to a name ("@name") takes the reply of
// whichever holder answers.
func (c *Client) complete(id uint64, from string, r reply) bool {
	c.pendingMu.Lock()
	op, ok := c.pending[id]
	ok = ok && (from == "" || from == op.peer || (isName(op.peer) && from != ""))
	if ok {
		delete(c.pending, id)
	}
	c.pendingMu.Unlock()
	if ok {
		r.from = from
		op.ch <- r // 1-buffered and sent to once: never blocks
	}
	return ok
}

// failPending fails every pending operation with err.
func (c *Client) failPending(err error) {
	c.pendingMu.Lock()
	pending := c.pending
	c.pending = make(map[uint64]pendingOp, len(pending))
	c.pendingMu.Unlock()
	for _, op := range pending {
		op.ch <- reply{err: err}
	}
}

// replyChannels recycles the 1-buffered channels of pending operations. A
// channel goes back only once it is known to be empty and unreachable.
var replyChannels = sync.Pool{New: func() any { return make(chan reply, 1) }}

// timers recycles the timers of CallTimeout.
var timers sync.Pool

// await waits for the reply to id on ch, for Options.CallTimeout unless ctx
// ends earlier.
func (c *Client) await(ctx context.Context, id uint64, ch chan reply) (reply, error) {
	var timeout <-chan time.Time
	if d := c.opts.CallTimeout; d > 0 {
		if deadline, ok := ctx.Deadline(); !ok || time.Until(deadline) > d {
			timer, _ := timers.Get().(*time.Timer)
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			defer func() {
				timer.Stop()
				timers.Put(timer)
			}()
			timeout = timer.C
		}
	}
	var err error
	select {
	case r := <-ch:
		replyChannels.Put(ch)
		return r, nil
	case <-ctx.Done():
		err = contextError(ctx)
	case <-timeout:
		err = &timeoutError{after: c.opts.CallTimeout}
	}
	if !c.removePending(id) {
		// The reply is on its way: take it, so ch can be reused.
		r := <-ch
		replyChannels.Put(ch)
		return r, nil
	}
	replyChannels.Put(ch)
	return reply{}, err
}

// checkSize refuses a frame over Options.MaxSendSize; what names it.
func (c *Client) checkSize(frame []byte, what string) error {
	if limit := c.opts.MaxSendSize; limit > 0 && len(frame) > limit {
		return wire.NewError(wire.CodePayloadTooLarge,
			fmt.Sprintf("%s of %d bytes is over the limit of %d (Options.MaxSendSize)", what, len(frame), limit))
	}
	return nil
}

// disconnected marks err as the end of a connection, unless it already says
// so or the client was closed.
func disconnected(err error) error {
	if err == nil || errors.Is(err, ErrClosed) || errors.Is(err, ErrDisconnected) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrDisconnected, err)
}
