package cluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// A node hands a direct message for a connection of another live node to
// that node without waiting for the outcome: the relay's reader goes on to
// the sender's next frame at once, and many deliveries share a write and a
// NATS message's processing instead of each paying a round trip.
//
// The deliveries to each node form a stream numbered from 1. The receiving
// node delivers them in order and, at the end of each batch it has
// received (or every reportEvery), reports back the last number it has
// handled and which of them failed (gone, rate limited, another tenant) or
// never arrived (a gap in the numbers). The sending node keeps each
// delivery until it is reported on: a failure is answered to its sender
// with the error frame the relay would have sent at once; a delivery not
// reported on within RequestTimeout, or to a node found dead, is answered
// internal (it may have arrived), and gone when the node said goodbye
// (it closed its connections first).
//
// Replies keep their place: a frame the relay sends a connection because of
// its own frame (a reply, an error frame) waits until the deliveries that
// connection made before are reported on, so "gone" for a message comes
// before the answer to the frame the client sent after it. It waits in the
// pipeline, not in the relay's caller: it is kept with the connection's
// holds and delivered by whoever lifts the last of them, so the reader (or
// the event loop) goes on. What the connection sends next waits until those
// frames are out, so its own later deliveries cannot overtake them; an
// event loop hands such a connection to a goroutine (see
// integration.Immediate). At most maxLater frames wait so; past them, the
// sender waits.

// maxOutstanding bounds the deliveries to one node not yet reported on;
// past it a delivery answers rate_limited.
const maxOutstanding = 1 << 16

// maxLater bounds the frames to one connection that wait in the pipeline
// for its deliveries' reports; a reply past it waits in its sender.
const maxLater = 64

// reportEvery bounds how many deliveries a node handles before it reports,
// when they keep coming without a pause.
const reportEvery = 256

// sweepEvery is how often a node looks for deliveries that have waited too
// long for their report, or whose node has died.
const sweepEvery = 50 * time.Millisecond

// pipeline is a node's deferred deliveries: those it sends (streams, holds)
// and those it receives (origins).
type pipeline struct {
	n        *Node
	deferrer relay.Deferrer // nil: every delivery is synchronous

	mu      sync.Mutex
	streams map[wire.NodeTag]*stream

	holds [holdShards]holdShard

	changedMu sync.Mutex
	changed   chan struct{} // closed when a hold is lifted

	resolving context.Context // marks the error frames of failed deliveries
	// clock is the time in Unix nanoseconds, to within sweepEvery: the
	// sweep sets it, so that a delivery does not read the time.
	clock atomic.Int64
	self  []byte         // this node's tag, as messages carry it
	batch *gateway.Batch // writes what a batch from another node delivers (receiving goroutine only)

	origins map[wire.NodeTag]*origin // on the receiving goroutine only
	inbox   *nats.Subscription
}

// stream is what a node has sent another node and not yet had reported.
type stream struct {
	tag     wire.NodeTag
	subject string

	mu      sync.Mutex // orders numbering with publishing
	next    uint64     // the number of the last delivery sent
	records []record   // deliveries not reported on, in order, from head
	head    int
	buf     []byte // the batch not yet published: [origin][first number][to, tenant, frame]...
	kicked  bool   // the flusher has been asked to publish the batch

	kick         chan struct{} // wakes the flusher
	publishLater func()        // publishes the batch at the end of an event loop's round
	done         chan struct{} // closed when the stream is dropped

	checking atomic.Bool // a check whether the node listens is under way

	resolveMu sync.Mutex // one resolution at a time, in order
	resolved  []record   // scratch for the deliveries being resolved, under resolveMu
}

// record is a delivery waiting for its report.
type record struct {
	seq              uint64
	from, to, tenant string
	idLen            int      // the frame's id: -1 none, else its length
	idBuf            [24]byte // the id when it fits
	idLong           []byte   // the id when it does not
	sent             int64    // the pipeline's clock when it was sent
}

// setID keeps a copy of the frame's id, in the record itself when short
// (records are copied, so nothing may point into one).
func (r *record) setID(id []byte) {
	r.idLen = len(id)
	switch {
	case id == nil:
		r.idLen = -1
	case len(id) <= len(r.idBuf):
		copy(r.idBuf[:], id)
	default:
		r.idLong = append([]byte(nil), id...)
	}
}

// id returns the frame's id, nil when it had none.
func (r *record) id() []byte {
	switch {
	case r.idLen < 0:
		return nil
	case r.idLen <= len(r.idBuf):
		return r.idBuf[:r.idLen]
	}
	return r.idLong
}

// hold is a connection's last delivery to a node that is not reported on.
type hold struct {
	tag wire.NodeTag
	seq uint64
}

// holding is what the pipeline keeps about a connection that has made
// deferred deliveries.
type holding struct {
	holds    []hold           // its last delivery to each node, not reported on
	later    []relay.Delivery // frames to it that wait for holds to lift, in order
	draining bool             // later is being delivered
}

// pending reports whether frames to the connection wait in the pipeline.
func (h *holding) pending() bool { return len(h.later) > 0 || h.draining }

const holdShards = 64

type holdShard struct {
	mu sync.Mutex
	m  map[string]*holding
}

// origin is what a receiving node has handled of another node's stream.
type origin struct {
	subject  string // where its reports go
	tenant   string // the tenant of its last delivery
	last     uint64 // the last number handled
	reported uint64 // the last number reported
	failures []byte // encoded failures since the last report
	count    int    // failures encoded
	scratch  []byte // the report being built
}

type resolvingKey struct{}

func newPipeline(n *Node) *pipeline {
	p := &pipeline{n: n, streams: make(map[wire.NodeTag]*stream), changed: make(chan struct{}),
		origins: make(map[wire.NodeTag]*origin)}
	p.resolving = context.WithValue(n.ctx, resolvingKey{}, true)
	p.self = []byte(n.tag.String())
	p.batch = gateway.NewBatch(n.ctx)
	for i := range p.holds {
		p.holds[i].m = make(map[string]*holding)
	}
	return p
}

func (n *Node) queueSubject(t wire.NodeTag) string  { return n.prefix + "n." + t.String() + ".q" }
func (n *Node) reportSubject(t wire.NodeTag) string { return n.prefix + "n." + t.String() + ".r" }

// start subscribes to the deliveries other nodes defer to this node and to
// the reports on this node's own, and sweeps.
func (p *pipeline) start() error {
	n := p.n
	sub, err := n.nc.Subscribe(n.queueSubject(n.tag), p.onQueued)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to deferred deliveries: %w", err)
	}
	p.inbox = sub
	n.subs = append(n.subs, sub)
	reports, err := n.nc.Subscribe(n.reportSubject(n.tag), p.onReport)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to delivery reports: %w", err)
	}
	n.subs = append(n.subs, reports)
	p.clock.Store(time.Now().UnixNano())
	n.done.Go(p.sweep)
	return nil
}

// send sends d to node tag without waiting, and reports whether it did; a
// delivery it does not take is sent synchronously. Deliveries to a node
// share NATS messages: while the reader that calls it has more messages to
// handle (gateway.MoreFollows), a delivery waits in the stream's batch for
// the next that does not, or for the stream's flusher.
func (p *pipeline) send(ctx context.Context, tag wire.NodeTag, d relay.Delivery) (bool, error) {
	if p.deferrer == nil || !d.Deferrable || d.From == "" || p.n.ctx.Err() != nil || !p.n.peers.alive(tag) || !p.n.connected() {
		return false, nil
	}
	st := p.stream(tag)
	st.mu.Lock()
	if len(st.records)-st.head >= maxOutstanding {
		st.mu.Unlock()
		return true, wire.NewError(wire.CodeRateLimited, "too many messages in flight to another node")
	}
	var failed uint64 // the last of a batch NATS refused
	var err error
	if len(st.buf) > 0 && len(st.buf)+len(d.Frame) > maxBatchBytes {
		failed, err = st.flushLocked(p.n.nc)
	}
	seq := st.next + 1
	if len(st.buf) == 0 {
		st.buf = appendField(st.buf, p.self)
		st.buf = binary.AppendUvarint(st.buf, seq)
	}
	st.buf = appendField(st.buf, []byte(d.To))
	st.buf = appendField(st.buf, []byte(d.Tenant))
	st.buf = appendField(st.buf, d.Frame)
	st.next = seq
	st.compactLocked()
	st.records = append(st.records, record{seq: seq, from: d.From, to: d.To, tenant: d.Tenant, sent: p.clock.Load()})
	st.records[len(st.records)-1].setID(d.ID)
	p.hold(d.From, tag, seq)
	if gateway.MoreFollows(ctx) {
		if !st.kicked {
			st.kicked = true
			if !gateway.AtRoundEnd(ctx, st.publishLater) {
				select {
				case st.kick <- struct{}{}:
				default:
				}
			}
		}
	} else if last, ferr := st.flushLocked(p.n.nc); ferr != nil {
		failed, err = last, ferr
	}
	st.mu.Unlock()
	if err != nil {
		p.refused(st, failed, err)
	}
	return true, nil
}

// compactLocked moves the deliveries not yet reported on to the front of
// the records once the reported ones before them are as many, so that a
// stream that never empties under steady load does not grow. The caller
// holds st.mu.
func (st *stream) compactLocked() {
	if st.head == 0 || st.head < len(st.records)-st.head {
		return
	}
	n := copy(st.records, st.records[st.head:])
	clear(st.records[n:])
	st.records, st.head = st.records[:n], 0
}

// maxBatchBytes bounds the deliveries that share a NATS message, short of
// one that is larger on its own.
const maxBatchBytes = 16 << 10

// flushLocked publishes the stream's batch. When NATS refuses it (its
// connection is down), it returns the number of the batch's last delivery
// and the error. The caller holds st.mu.
func (st *stream) flushLocked(nc *nats.Conn) (uint64, error) {
	if len(st.buf) == 0 {
		return 0, nil
	}
	err := nc.Publish(st.subject, st.buf)
	st.buf = st.buf[:0]
	if err != nil {
		return st.next, err
	}
	return 0, nil
}

// refused answers the deliveries up to last, which include a batch NATS
// would not take: their reports cannot come either (the connection to NATS
// is down), so every one of them may or may not have arrived.
func (p *pipeline) refused(st *stream, last uint64, err error) {
	p.resolve(st, last, false, func(*record) error {
		return fmt.Errorf("cluster: deliver through node %s: %w", st.tag, errors.Join(ErrBackbone, err))
	})
}

// flush publishes a stream's batch whenever a delivery leaves one behind.
func (p *pipeline) flush(st *stream) {
	for {
		select {
		case <-st.kick:
		case <-st.done:
			return
		case <-p.n.ctx.Done():
			return
		}
		p.publish(st)
	}
}

// publish publishes st's batch, which a delivery left behind.
func (p *pipeline) publish(st *stream) {
	st.mu.Lock()
	st.kicked = false
	last, err := st.flushLocked(p.n.nc)
	st.mu.Unlock()
	if err != nil {
		p.refused(st, last, err)
	}
}

// outstanding returns how many deliveries to other nodes wait for their
// report.
func (p *pipeline) outstanding() int {
	p.mu.Lock()
	streams := make([]*stream, 0, len(p.streams))
	for _, st := range p.streams {
		streams = append(streams, st)
	}
	p.mu.Unlock()
	n := 0
	for _, st := range streams {
		st.mu.Lock()
		n += len(st.records) - st.head
		st.mu.Unlock()
	}
	return n
}

func (p *pipeline) stream(tag wire.NodeTag) *stream {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.streams[tag]
	if st == nil {
		st = &stream{tag: tag, subject: p.n.queueSubject(tag), kick: make(chan struct{}, 1), done: make(chan struct{})}
		st.publishLater = func() { p.publish(st) }
		p.streams[tag] = st
		p.n.done.Go(func() { p.flush(st) })
	}
	return st
}

func (p *pipeline) shard(connectionID string) *holdShard {
	h := uint32(2166136261)
	for i := 0; i < len(connectionID); i++ {
		h = (h ^ uint32(connectionID[i])) * 16777619
	}
	return &p.holds[h%holdShards]
}

// hold notes that connectionID's last delivery to tag is seq.
func (p *pipeline) hold(connectionID string, tag wire.NodeTag, seq uint64) {
	s := p.shard(connectionID)
	s.mu.Lock()
	h := s.m[connectionID]
	if h == nil {
		h = &holding{}
		s.m[connectionID] = h
	}
	for i := range h.holds {
		if h.holds[i].tag == tag {
			h.holds[i].seq = seq
			s.mu.Unlock()
			return
		}
	}
	h.holds = append(h.holds, hold{tag, seq})
	s.mu.Unlock()
}

// lift ends the hold of r's sender on r's stream when r is its last
// delivery there. It reports whether it did, and whether the frames that
// waited for the connection's holds are now to be delivered (see drain). The
// connection's entry stays (empty) until it closes, so that holding again
// does not allocate.
func (p *pipeline) lift(tag wire.NodeTag, r *record) (lifted, drain bool) {
	s := p.shard(r.from)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m[r.from]
	if h == nil {
		return false, false
	}
	for i := range h.holds {
		if h.holds[i].tag == tag && h.holds[i].seq == r.seq {
			h.holds[i] = h.holds[len(h.holds)-1]
			h.holds = h.holds[:len(h.holds)-1]
			if len(h.holds) == 0 && len(h.later) > 0 && !h.draining {
				h.draining = true
				return true, true
			}
			return true, false
		}
	}
	return false, false
}

// busy reports whether connectionID has deliveries not reported on, or
// frames that wait for them.
func (p *pipeline) busy(connectionID string) bool {
	s := p.shard(connectionID)
	s.mu.Lock()
	h := s.m[connectionID]
	b := h != nil && (len(h.holds) > 0 || h.pending())
	s.mu.Unlock()
	return b
}

// pending reports whether frames to connectionID wait in the pipeline for
// its deliveries' reports: until they are out, what it sends waits.
func (p *pipeline) pending(connectionID string) bool {
	s := p.shard(connectionID)
	s.mu.Lock()
	h := s.m[connectionID]
	b := h != nil && h.pending()
	s.mu.Unlock()
	return b
}

// later keeps d, a frame to its own sender, until the sender's deliveries
// made before are reported on, and reports whether it did; false when
// nothing holds it up (send it now) or maxLater frames wait already (the
// caller waits, then sends it).
func (p *pipeline) later(d relay.Delivery) bool {
	if p.deferrer == nil {
		return false
	}
	s := p.shard(d.To)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.m[d.To]
	if h == nil || (len(h.holds) == 0 && !h.pending()) || len(h.later) >= maxLater {
		return false
	}
	d.Frame = bytes.Clone(d.Frame)
	h.later = append(h.later, d)
	return true
}

// drain delivers the frames that waited for connectionID's holds, in order,
// with those that join them meanwhile, then lets its sends go on. Only the
// goroutine that lift told to drain runs it.
func (p *pipeline) drain(connectionID string) {
	s := p.shard(connectionID)
	var batch []relay.Delivery
	for {
		s.mu.Lock()
		h := s.m[connectionID]
		if h == nil || len(h.later) == 0 {
			if h != nil {
				h.draining = false
				h.later = nil
			}
			s.mu.Unlock()
			p.lifted()
			return
		}
		batch, h.later = h.later, batch[:0]
		s.mu.Unlock()
		for i := range batch {
			_ = p.n.local.Send(p.n.ctx, batch[i]) // as a reply: one to a connection gone or full is dropped
			batch[i] = relay.Delivery{}
		}
	}
}

// forget drops what the pipeline keeps about a connection that has closed.
func (p *pipeline) forget(connectionID string) {
	s := p.shard(connectionID)
	s.mu.Lock()
	delete(s.m, connectionID)
	s.mu.Unlock()
}

// wait returns once connectionID's deferred deliveries are all reported on
// (or answered by the sweep) and the frames that waited for them are out,
// or ctx ends. The error frames of failed deliveries themselves do not
// wait. With quiet, it waits only for those frames (which wait for the
// deliveries made before them, not for any after).
func (p *pipeline) wait(ctx context.Context, connectionID string, quiet bool) {
	if p.deferrer == nil || p.settled(connectionID, quiet) || ctx.Value(resolvingKey{}) != nil {
		return
	}
	for {
		p.changedMu.Lock()
		changed := p.changed
		p.changedMu.Unlock()
		if p.settled(connectionID, quiet) {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-p.n.ctx.Done():
			return
		}
	}
}

// settled reports whether connectionID has nothing wait waits for: no
// frames waiting in the pipeline, and unless quiet, no deliveries waiting
// for their reports either.
func (p *pipeline) settled(connectionID string, quiet bool) bool {
	if quiet {
		return !p.pending(connectionID)
	}
	return !p.busy(connectionID)
}

func (p *pipeline) lifted() {
	p.changedMu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.changedMu.Unlock()
}

// resolve takes st's deliveries up to seq (all of them when all) off its
// books, answers the failed ones (failure returns their error, nil when
// delivered), and lifts the holds they ended.
func (p *pipeline) resolve(st *stream, seq uint64, all bool, failure func(*record) error) {
	st.resolveMu.Lock()
	defer st.resolveMu.Unlock()
	st.mu.Lock()
	end := st.head
	for end < len(st.records) && (all || st.records[end].seq <= seq) {
		end++
	}
	st.resolved = append(st.resolved[:0], st.records[st.head:end]...)
	clear(st.records[st.head:end])
	st.head = end
	st.mu.Unlock()
	if len(st.resolved) == 0 {
		return
	}
	lifted := false
	for i := range st.resolved {
		r := &st.resolved[i]
		if err := failure(r); err != nil {
			p.deferrer.Undelivered(p.resolving, relay.Delivery{From: r.from, To: r.to, Tenant: r.tenant, ID: r.id()}, err)
		}
		switch ok, drain := p.lift(st.tag, r); {
		case drain:
			p.drain(r.from)
		case ok:
			lifted = true
		}
	}
	clear(st.resolved)
	if lifted {
		p.lifted()
	}
}

// parseHeader reads what begins a batch of deliveries and a report: the
// sending node's tag and a number (the batch's first, the report's last).
func parseHeader(b []byte) (tag wire.NodeTag, number uint64, rest []byte, ok bool) {
	tagField, b, err := readField(b)
	if err != nil {
		return tag, 0, nil, false
	}
	if tag, ok = wire.ParseNodeTag(string(tagField)); !ok {
		return tag, 0, nil, false
	}
	number, k := binary.Uvarint(b)
	if k <= 0 {
		return tag, 0, nil, false
	}
	return tag, number, b[k:], true
}

// onReport resolves the deliveries another node reports on:
// [reporter tag][last number][failures: first, last, code, message]...
func (p *pipeline) onReport(m *nats.Msg) {
	tag, last, b, ok := parseHeader(m.Data)
	if !ok {
		return
	}
	var err error
	p.mu.Lock()
	st := p.streams[tag]
	p.mu.Unlock()
	if st == nil {
		return
	}
	type failed struct {
		first, last uint64
		err         error
	}
	var fails []failed
	for len(b) > 0 {
		first, k1 := binary.Uvarint(b)
		if k1 <= 0 {
			return
		}
		end, k2 := binary.Uvarint(b[k1:])
		if k2 <= 0 {
			return
		}
		var code, message []byte
		if code, b, err = readField(b[k1+k2:]); err != nil {
			return
		}
		if message, b, err = readField(b); err != nil {
			return
		}
		fails = append(fails, failed{first, end, wire.NewError(wire.Code(code), string(message))})
	}
	p.resolve(st, last, false, func(r *record) error {
		for _, f := range fails {
			if r.seq >= f.first && r.seq <= f.last {
				return f.err
			}
		}
		return nil
	})
}

// sweep answers the deliveries that wait too long for their report, or
// whose node has died or left.
func (p *pipeline) sweep() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-p.n.ctx.Done():
			return
		case now := <-t.C:
			p.clock.Store(now.UnixNano())
		}
		p.mu.Lock()
		streams := make([]*stream, 0, len(p.streams))
		for _, st := range p.streams {
			streams = append(streams, st)
		}
		p.mu.Unlock()
		for _, st := range streams {
			p.sweepStream(st)
		}
	}
}

func (p *pipeline) sweepStream(st *stream) {
	st.mu.Lock()
	pending := len(st.records) - st.head
	var oldest time.Time
	if pending > 0 {
		oldest = time.Unix(0, st.records[st.head].sent)
	}
	st.mu.Unlock()
	if pending == 0 {
		if p.n.peers.isDead(st.tag) {
			p.mu.Lock()
			if p.streams[st.tag] == st {
				delete(p.streams, st.tag)
				close(st.done)
			}
			p.mu.Unlock()
		}
		return
	}
	n := p.n
	left := n.peers.saidBye(st.tag)
	switch {
	case left && time.Since(oldest) < listenCheck:
		// A node that leaves has closed its connections, and reports on
		// what it handled until it stops listening.
	case left || n.peers.isDead(st.tag):
		p.resolve(st, 0, true, func(r *record) error {
			if left {
				return goneError(r.to)
			}
			return fmt.Errorf("cluster: node %s went away with the message in flight: %w", st.tag, errLostInFlight)
		})
	case time.Since(oldest) >= n.opts.RequestTimeout:
		cutoff := time.Now().Add(-n.opts.RequestTimeout).UnixNano()
		st.mu.Lock()
		var seq uint64
		for i := st.head; i < len(st.records) && st.records[i].sent <= cutoff; i++ {
			seq = st.records[i].seq
		}
		st.mu.Unlock()
		noAnswer := errNoAnswer(n.opts.RequestTimeout)
		p.resolve(st, seq, false, func(*record) error {
			return fmt.Errorf("cluster: no report from node %s: %w", st.tag, noAnswer)
		})
	case time.Since(oldest) >= listenCheck && st.checking.CompareAndSwap(false, true):
		// A node killed a moment ago drops what is sent to it without a
		// word: ask whether it still listens, as a request would.
		n.done.Go(func() {
			defer st.checking.Store(false)
			ctx, cancel := context.WithTimeout(n.ctx, n.opts.RequestTimeout)
			defer cancel()
			n.checkListens(ctx, st.tag)
		})
	}
}

// onQueued delivers a batch of deliveries from another node, in order,
// and reports when no more are waiting.
func (p *pipeline) onQueued(m *nats.Msg) {
	tag, seq, b, ok := parseHeader(m.Data)
	if !ok {
		return
	}
	var err error
	o := p.origins[tag]
	if o == nil {
		o = &origin{subject: p.n.reportSubject(tag)}
		p.origins[tag] = o
	}
	// NATS counts the message being handled as pending until it returns.
	msgs, _, _ := p.inbox.Pending()
	for ; len(b) > 0; seq++ {
		var to, tenant, frame []byte
		if to, b, err = readField(b); err == nil {
			if tenant, b, err = readField(b); err == nil {
				frame, b, err = readField(b)
			}
		}
		if err != nil {
			p.n.log.Warn("malformed deliveries from another node", "node", tag.String(), "err", err)
			break
		}
		if seq <= o.last {
			continue // a number already handled: never deliver twice
		}
		if seq > o.last+1 {
			o.fail(o.last+1, seq-1, wire.NewError(wire.CodeInternal, "lost between nodes"))
		}
		o.last = seq
		if string(tenant) != o.tenant {
			o.tenant = string(tenant) // the same tenant, message after message, without a copy each
		}
		// Each connection's frames of the batch leave in one write, at the
		// end, from this goroutine. The connection ID is read in place: the
		// gateway keeps no part of a Delivery, and nothing writes m.Data,
		// which NATS gave this handler to own.
		if err := p.n.local.Send(p.batch.Context(), relay.Delivery{To: unsafe.String(unsafe.SliceData(to), len(to)), Tenant: o.tenant, Frame: frame}); err != nil {
			o.fail(seq, seq, err)
		}
	}
	p.batch.Flush()
	if msgs <= 1 || o.last-o.reported >= reportEvery || o.count >= reportEvery {
		p.report()
	}
}

// fail notes that deliveries first to last of o failed with err.
func (o *origin) fail(first, last uint64, err error) {
	werr, ok := errors.AsType[*wire.Error](err)
	if !ok {
		werr = wire.NewError(wire.CodeInternal, "internal error")
	}
	o.failures = binary.AppendUvarint(o.failures, first)
	o.failures = binary.AppendUvarint(o.failures, last)
	o.failures = appendField(o.failures, []byte(werr.Code))
	o.failures = appendField(o.failures, []byte(werr.Message))
	o.count++
}

// report tells each origin with deliveries handled since its last report
// how far this node has come, and which failed.
func (p *pipeline) report() {
	for tag, o := range p.origins {
		if o.last == o.reported {
			if p.n.peers.isDead(tag) {
				delete(p.origins, tag) // it sends no more
			}
			continue
		}
		b := appendField(o.scratch[:0], p.self)
		b = binary.AppendUvarint(b, o.last)
		b = append(b, o.failures...)
		_ = p.n.nc.Publish(o.subject, b)
		o.scratch = b
		o.reported = o.last
		o.failures, o.count = o.failures[:0], 0
	}
}
