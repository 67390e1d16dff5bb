package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/wire"
)

// beat is what a node says of itself in its heartbeats.
type beat struct {
	Tag         string    `json:"tag"`
	Address     string    `json:"address,omitempty"`
	Started     time.Time `json:"started"`
	Connections int       `json:"connections"`
}

// peers is the node's view of the other nodes, from their heartbeats: a
// node is alive while it is heard, dead once it went unheard of for
// deadAfter, said goodbye or was found gone (a request to it found no
// responder), and unknown otherwise — one that has just started and not
// been heard yet, or one that never was. Dead nodes are remembered for
// deadMemory, so that a message for their connections is gone at once.
//
// Not having heard a node for deadAfter means it is dead only when this
// node could hear all that time: deaf is the last moment its own NATS
// connection was down, and a node is judged by the later of its last
// heartbeat and that moment. So when NATS returns after an outage, the
// nodes known before are taken for alive until they have had deadAfter to
// be heard again, rather than for dead (their connections gone) until
// their next heartbeat.
type peers struct {
	deadAfter time.Duration
	deaf      atomic.Int64 // unix nanoseconds; 0: never

	mu   sync.RWMutex
	seen map[wire.NodeTag]peer
	dead map[wire.NodeTag]time.Time // when each was taken for dead
	bye  map[wire.NodeTag]bool      // the dead that said goodbye
	// lines are the lifelines of the nodes requests are in flight to: each
	// ends when its node is found gone, and so do the requests.
	lines map[wire.NodeTag]*lifeline
}

// deadMemory is how long a dead node is remembered: longer than NATS takes
// to forget the subscriptions of a client that vanished without closing
// its connection (two missed pings, of 2 minutes each by default).
const deadMemory = 10 * time.Minute

// lifeline is a context that ends when its node is found gone.
type lifeline struct {
	context.Context
	cancel context.CancelFunc
	users  int // requests in flight on it; under peers.mu
	// left is set when the node says goodbye: it has closed its
	// connections, and answers what it still gets with gone until it stops
	// listening, which is when the line is cut.
	left atomic.Bool
}

type peer struct {
	beat
	at time.Time // when last heard
}

func newPeers(deadAfter time.Duration) *peers {
	return &peers{
		deadAfter: deadAfter,
		seen:      make(map[wire.NodeTag]peer),
		dead:      make(map[wire.NodeTag]time.Time),
		bye:       make(map[wire.NodeTag]bool),
		lines:     make(map[wire.NodeTag]*lifeline),
	}
}

// lifeline returns t's lifeline, which ends when t is found gone: a
// request to it finds no responder, or it goes unheard of for deadAfter. A
// request to t waits for its answer no longer than that: the answer will
// not come. Call release when the request is over.
func (p *peers) lifeline(t wire.NodeTag) *lifeline {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.lines[t]
	if line == nil {
		line = new(lifeline)
		line.Context, line.cancel = context.WithCancel(context.Background())
		p.lines[t] = line
	}
	line.users++
	return line
}

// release ends a request's use of t's lifeline; the last one drops it.
func (p *peers) release(t wire.NodeTag, line *lifeline) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if line.users--; line.users == 0 && p.lines[t] == line {
		line.cancel()
		delete(p.lines, t)
	}
}

// cut ends t's lifeline. The caller holds mu.
func (p *peers) cut(t wire.NodeTag) {
	if line := p.lines[t]; line != nil {
		line.cancel()
		delete(p.lines, t)
	}
}

// heard records a heartbeat.
func (p *peers) heard(t wire.NodeTag, b beat) {
	p.mu.Lock()
	p.seen[t] = peer{beat: b, at: time.Now()}
	delete(p.dead, t)
	delete(p.bye, t)
	p.mu.Unlock()
}

// answered records that t answered a request: a node not heard of yet
// lives, and is judged by its heartbeats from now on, so that it is dead
// if it goes silent before its first one crosses.
func (p *peers) answered(t wire.NodeTag) {
	p.mu.Lock()
	if _, ok := p.seen[t]; !ok {
		p.seen[t] = peer{beat: beat{Tag: t.String()}, at: time.Now()}
	}
	p.mu.Unlock()
}

// left forgets a node that said goodbye. Requests in flight to it wait on:
// it answers them until it stops listening.
func (p *peers) left(t wire.NodeTag) {
	p.mu.Lock()
	delete(p.seen, t)
	p.dead[t] = time.Now()
	p.bye[t] = true
	if line := p.lines[t]; line != nil {
		line.left.Store(true)
	}
	p.mu.Unlock()
}

// gone forgets a node that a request found gone, and ends the requests in
// flight to it. Only a node that was heard of is remembered dead: the tags
// of IDs never issued, which anyone can make up, are not kept.
func (p *peers) gone(t wire.NodeTag) {
	p.mu.Lock()
	if _, known := p.seen[t]; known {
		delete(p.seen, t)
		p.dead[t] = time.Now()
	}
	p.cut(t)
	p.mu.Unlock()
}

// alive reports whether t was heard from recently.
func (p *peers) alive(t wire.NodeTag) bool {
	p.mu.RLock()
	seen, ok := p.seen[t]
	p.mu.RUnlock()
	return ok && p.fresh(seen.at)
}

// saidBye reports whether t is dead and said goodbye first.
func (p *peers) saidBye(t wire.NodeTag) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.bye[t]
}

// isDead reports whether t is dead: heard of, but not recently; or gone.
func (p *peers) isDead(t wire.NodeTag) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if seen, ok := p.seen[t]; ok {
		return !p.fresh(seen.at)
	}
	_, dead := p.dead[t]
	return dead
}

// fresh reports whether a node last heard at is alive: it was heard, or
// this node could not hear, less than deadAfter ago.
func (p *peers) fresh(at time.Time) bool {
	if deaf := p.deaf.Load(); deaf > at.UnixNano() {
		at = time.Unix(0, deaf)
	}
	return time.Since(at) < p.deadAfter
}

// markDeaf records that this node cannot hear the others now (its NATS
// connection is down), or could not until now (it has just come back).
func (p *peers) markDeaf() { p.deaf.Store(time.Now().UnixNano()) }

// settled reports whether this node has heard the others for deadAfter
// without a break, so that a node that does not answer is not merely one
// that has not come back yet.
func (p *peers) settled() bool { return time.Since(time.Unix(0, p.deaf.Load())) >= p.deadAfter }

// count returns how many nodes are alive.
func (p *peers) count() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	n := 0
	for _, seen := range p.seen {
		if p.fresh(seen.at) {
			n++
		}
	}
	return n
}

// forgetDead takes the nodes unheard of for deadAfter for dead, ends the
// requests in flight to them, and returns them. It forgets the nodes dead
// for deadMemory.
func (p *peers) forgetDead() []wire.NodeTag {
	p.mu.Lock()
	defer p.mu.Unlock()
	var dead []wire.NodeTag
	now := time.Now()
	for t, seen := range p.seen {
		if !p.fresh(seen.at) {
			dead = append(dead, t)
			delete(p.seen, t)
			p.dead[t] = now
			p.cut(t)
		}
	}
	for t, at := range p.dead {
		if now.Sub(at) > deadMemory {
			delete(p.dead, t)
			delete(p.bye, t)
		}
	}
	return dead
}

// NodeInfo describes a live node of the cluster.
type NodeInfo struct {
	Tag         string
	Address     string
	Started     time.Time
	Connections int
	Self        bool
}

// join draws a tag no live node has, subscribes, and waits briefly for the
// live nodes to answer its roll call.
func (n *Node) join(ctx context.Context) error {
	hb, err := n.nc.Subscribe(n.prefix+subjectHeartbeat, n.onBeat)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to heartbeats: %w", err)
	}
	n.subs = append(n.subs, hb)
	bye, err := n.nc.Subscribe(n.prefix+subjectBye, func(m *nats.Msg) {
		if t, ok := wire.ParseNodeTag(string(m.Data)); ok {
			n.peers.left(t)
			n.forgetNode(t)
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe to departures: %w", err)
	}
	n.subs = append(n.subs, bye)
	for attempt := 0; ; attempt++ {
		n.rollCall(ctx)
		n.tag = wire.NewNodeTag()
		if !n.peers.alive(n.tag) {
			break
		}
		if attempt == 10 {
			return fmt.Errorf("cluster: no free node tag after %d tries", attempt)
		}
	}
	n.idHead = n.tag.Prefix()
	n.started = time.Now()
	n.self.Store(&selfBeat{tag: n.tag, started: n.started})
	hello, err := n.nc.Subscribe(n.prefix+subjectHello, func(m *nats.Msg) {
		if m.Reply != "" {
			_ = m.Respond(n.beatMessage())
		}
	})
	if err != nil {
		return fmt.Errorf("cluster: subscribe to roll calls: %w", err)
	}
	n.subs = append(n.subs, hello)
	sync, err := n.nc.Subscribe(n.prefix+subjectSync, func(m *nats.Msg) { _ = m.Respond(nil) })
	if err != nil {
		return fmt.Errorf("cluster: subscribe to barriers: %w", err)
	}
	n.subs = append(n.subs, sync)
	return n.nc.FlushTimeout(n.opts.RequestTimeout)
}

// rollCall asks the live nodes for a heartbeat and waits a short while for
// their answers.
func (n *Node) rollCall(ctx context.Context) {
	n.gather(ctx, subjectHello, nil, -1, rollCallWait, n.onBeat)
}

// gather sends a request with data to every node on subject and hands the
// answers to fn until want have come (-1: as many as come) or wait has
// passed.
func (n *Node) gather(ctx context.Context, subject string, data []byte, want int, wait time.Duration, fn func(*nats.Msg)) {
	if !n.nc.IsConnected() {
		return
	}
	inbox := nats.NewInbox()
	answers, err := n.nc.SubscribeSync(inbox)
	if err != nil {
		return
	}
	defer answers.Unsubscribe()
	if n.nc.PublishRequest(n.prefix+subject, inbox, data) != nil {
		return
	}
	deadline := time.Now().Add(wait)
	for got := 0; want < 0 || got < want; got++ {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return
		}
		m, err := answers.NextMsg(left)
		if err != nil {
			return
		}
		fn(m)
	}
}

// rollCallWait is how long a joining node listens for the live nodes.
const rollCallWait = 200 * time.Millisecond

func (n *Node) onBeat(m *nats.Msg) {
	var b beat
	if json.Unmarshal(m.Data, &b) != nil {
		return
	}
	t, ok := wire.ParseNodeTag(b.Tag)
	if !ok {
		return
	}
	if self := n.self.Load(); self != nil && t == self.tag {
		if b.Started.Equal(self.started) {
			return
		}
		if self.attached {
			n.log.Error("another node has this node's tag: their connections may be confused", "tag", b.Tag, "address", b.Address)
		}
	}
	n.peers.heard(t, b)
}

// selfBeat is the node's own tag and start, as onBeat compares heartbeats
// with them; attached once the node serves deliveries.
type selfBeat struct {
	tag      wire.NodeTag
	started  time.Time
	attached bool
}

func (n *Node) beatMessage() []byte {
	b := beat{Tag: n.tag.String(), Address: n.opts.Address, Started: n.started, Connections: n.connections()}
	data, _ := json.Marshal(b)
	return data
}

// forgetNode forgets what a node that died or left held: its names, and
// its members of the channels this node's connections watch.
func (n *Node) forgetNode(t wire.NodeTag) {
	if n.names != nil {
		n.names.forgetNode(t)
	}
	if n.watchers != nil {
		n.watchers.forgetNode(t)
	}
}

// connections returns the number of local connections, 0 before Attach.
func (n *Node) connections() int {
	if count, ok := n.counter.Load().(func() int); ok {
		return count()
	}
	return 0
}

// heartbeat tells the others this node lives, and forgets those that died.
func (n *Node) heartbeat() {
	t := time.NewTicker(n.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		if !n.nc.IsConnected() {
			n.peers.markDeaf()
			continue
		}
		n.beat()
		for _, dead := range n.peers.forgetDead() {
			n.log.Warn("node unheard of: taken for dead", "tag", dead.String())
			n.forgetNode(dead)
		}
	}
}

// beat tells the others this node lives, unless it has said goodbye.
func (n *Node) beat() {
	n.beatMu.Lock()
	defer n.beatMu.Unlock()
	if !n.saidBye {
		_ = n.nc.Publish(n.prefix+subjectHeartbeat, n.beatMessage())
	}
}

// watchConnection notes when the node's NATS connection comes back, and
// tells the others at once that this node lives.
func (n *Node) watchConnection(status chan nats.Status) {
	defer n.nc.RemoveStatusListener(status)
	for {
		select {
		case <-n.ctx.Done():
			return
		case s := <-status:
			n.peers.markDeaf()
			if s == nats.CONNECTED {
				n.beat()
			}
		}
	}
}

// Nodes returns the live nodes, this one first.
func (n *Node) Nodes() []NodeInfo {
	self := NodeInfo{Tag: n.tag.String(), Address: n.opts.Address, Started: n.started, Connections: n.connections(), Self: true}
	all := []NodeInfo{self}
	n.peers.mu.RLock()
	defer n.peers.mu.RUnlock()
	for _, p := range n.peers.seen {
		if n.peers.fresh(p.at) {
			all = append(all, NodeInfo{Tag: p.Tag, Address: p.Address, Started: p.Started, Connections: p.Connections})
		}
	}
	return all
}
