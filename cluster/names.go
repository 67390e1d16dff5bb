package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/names"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Names is a node's name store: a replica of every node's claims, so that
// a message to a name finds a holder with no round trip. Each node is the
// authority for the claims of its own connections: it applies them at once,
// tells every node, and answers a joining node's roll call with them.
// Claims are stamped (time, node tag, sequence); an exclusive claim takes
// the name from every claim stamped before it, wherever it learns of them,
// and a node that learns its own connection lost tells it. So every replica
// converges to the same holders, and of two racing exclusive claims on two
// nodes the later-stamped one wins and the other is told it was released.
type Names struct {
	node *Node
	max  int

	mu        sync.Mutex
	holders   map[string]map[string]stamp // name -> holder -> its claim's stamp
	exclusive map[string]stamp            // name -> stamp of its newest exclusive claim
	local     map[string]map[string]bool  // local connection -> names it holds
	claims    map[string]relay.Claim      // name+"\x00"+local holder -> the claim, for notices
	seq       uint64
}

var _ relay.Names = (*Names)(nil)

// stamp orders claims across nodes.
type stamp struct {
	At  int64  `json:"at"`
	Tag string `json:"tag"`
	Seq uint64 `json:"seq"`
}

func (s stamp) before(o stamp) bool {
	if s.At != o.At {
		return s.At < o.At
	}
	if s.Tag != o.Tag {
		return s.Tag < o.Tag
	}
	return s.Seq < o.Seq
}

// nameEvent travels on the names subject: a claim or a release.
type nameEvent struct {
	Op        string `json:"op"` // "claim", "release", or "sync" (a barrier)
	Name      string `json:"name,omitempty"`
	Holder    string `json:"holder,omitempty"`
	Exclusive bool   `json:"exclusive,omitempty"`
	Stamp     stamp  `json:"stamp"`
}

const subjectNames = "names"

func newNames(n *Node, max int) *Names {
	if max <= 0 {
		max = 64
	}
	return &Names{
		node: n, max: max,
		holders:   make(map[string]map[string]stamp),
		exclusive: make(map[string]stamp),
		local:     make(map[string]map[string]bool),
		claims:    make(map[string]relay.Claim),
	}
}

// start subscribes to the other nodes' claims and learns those already
// made, from every live node.
func (s *Names) start(ctx context.Context) error {
	sub, err := s.node.nc.Subscribe(s.node.prefix+subjectNames, s.onEvent)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to names: %w", err)
	}
	s.node.subs = append(s.node.subs, sub)
	list, err := s.node.nc.Subscribe(s.node.prefix+subjectNames+".list", s.onList)
	if err != nil {
		return fmt.Errorf("cluster: subscribe to name lists: %w", err)
	}
	s.node.subs = append(s.node.subs, list)
	s.node.gather(ctx, subjectNames+".list", nil, s.node.peers.count(), s.node.opts.RequestTimeout, func(m *nats.Msg) {
		var events []nameEvent
		if json.Unmarshal(m.Data, &events) == nil {
			for _, ev := range events {
				s.apply(ev)
			}
		}
	})
	return nil
}

// Claim applies a local connection's claim, tells every node, and returns
// once every live node has it, so that a message to the name sent anywhere
// after the "claimed" reply finds the holder. It returns the local holders
// an exclusive claim took the name from; each other node tells its own.
func (s *Names) Claim(ctx context.Context, c relay.Claim) ([]string, error) {
	s.mu.Lock()
	mine := s.local[c.ConnectionID]
	if !mine[c.Name] && len(mine) >= s.max {
		s.mu.Unlock()
		return nil, relay.ErrNameLimit(s.max)
	}
	s.seq++
	ev := nameEvent{Op: "claim", Name: c.Name, Holder: c.ConnectionID, Exclusive: c.Exclusive,
		Stamp: stamp{At: time.Now().UnixNano(), Tag: s.node.tag.String(), Seq: s.seq}}
	var released []string
	for _, id := range s.applyLocked(ev) {
		// The relay tells this node's losers; every other node tells its
		// own as it applies the claim, before the barrier below returns.
		if s.node.isLocal(id) {
			released = append(released, id)
		}
	}
	s.claims[c.Name+"\x00"+c.ConnectionID] = c
	s.mu.Unlock()
	return released, s.broadcast(ctx, ev)
}

// Release releases a name of a local connection, everywhere.
func (s *Names) Release(ctx context.Context, name, connectionID string) error {
	ev := nameEvent{Op: "release", Name: name, Holder: connectionID}
	s.mu.Lock()
	s.applyLocked(ev)
	s.mu.Unlock()
	if !s.node.isLocal(connectionID) {
		// A holder of another node that a message to the name found gone:
		// this replica forgets it now; its node tells everyone as the
		// connection's close is handled there (or the node is dead).
		return nil
	}
	return s.broadcast(ctx, ev)
}

// Holders reads the replica.
func (s *Names) Holders(_ context.Context, name string, limit int) ([]string, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.holders[name]
	return names.Keys(set, limit), len(set), nil
}

// DropConnection releases every name of a local connection that closed.
func (s *Names) DropConnection(ctx context.Context, connectionID string) error {
	s.mu.Lock()
	var events []nameEvent
	for name := range s.local[connectionID] {
		ev := nameEvent{Op: "release", Name: name, Holder: connectionID}
		s.applyLocked(ev)
		events = append(events, ev)
	}
	s.mu.Unlock()
	var errs []error
	for _, ev := range events {
		errs = append(errs, s.publish(ev))
	}
	return errors.Join(errs...)
}

// forgetNode drops the claims of a node that died.
func (s *Names) forgetNode(t wire.NodeTag) {
	prefix := t.Prefix()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, set := range s.holders {
		for id := range set {
			if strings.HasPrefix(id, prefix) {
				delete(set, id)
			}
		}
		if len(set) == 0 {
			delete(s.holders, name)
			delete(s.exclusive, name)
		}
	}
}

// apply applies another node's event.
func (s *Names) apply(ev nameEvent) {
	s.mu.Lock()
	var notices []relay.Claim
	for _, id := range s.losers(ev) { // before the event removes their claims
		if c, ok := s.claims[ev.Name+"\x00"+id]; ok && s.node.isLocal(id) {
			notices = append(notices, c)
		}
	}
	s.applyLocked(ev)
	s.mu.Unlock()
	for _, c := range notices { // a local holder lost to a claim elsewhere
		frame := wire.AppendName(nil, false, c.Label, nil)
		if err := s.node.local.Send(s.node.ctx, relay.Delivery{To: c.ConnectionID, Tenant: c.Tenant, Frame: frame}); err != nil && !errors.Is(err, wire.ErrGone) {
			s.node.log.Warn("tell a holder it lost its name", "connection", c.ConnectionID, "err", err)
		}
	}
}

// losers returns the holders that ev would take the name from. s.mu is
// held.
func (s *Names) losers(ev nameEvent) []string {
	if ev.Op != "claim" {
		return nil
	}
	if newest, ok := s.exclusive[ev.Name]; ok && ev.Stamp.before(newest) {
		if s.node.isLocal(ev.Holder) {
			return []string{ev.Holder}
		}
		return nil
	}
	var lost []string
	if ev.Exclusive {
		for id, at := range s.holders[ev.Name] {
			if id != ev.Holder && at.before(ev.Stamp) {
				lost = append(lost, id)
			}
		}
	}
	return lost
}

// applyLocked applies an event to the replica and returns the holders that
// lost the name by it. s.mu is held.
func (s *Names) applyLocked(ev nameEvent) (lost []string) {
	switch ev.Op {
	case "release":
		s.remove(ev.Name, ev.Holder)
		return nil
	case "claim":
	default:
		return nil
	}
	if newest, ok := s.exclusive[ev.Name]; ok && ev.Stamp.before(newest) {
		// An exclusive claim stamped later took the name first: this
		// claim has lost already; its node tells its holder.
		if s.node.isLocal(ev.Holder) {
			lost = append(lost, ev.Holder)
			s.remove(ev.Name, ev.Holder)
		}
		return lost
	}
	set := s.holders[ev.Name]
	if set == nil {
		set = make(map[string]stamp)
		s.holders[ev.Name] = set
	}
	if ev.Exclusive {
		s.exclusive[ev.Name] = ev.Stamp
		for id, at := range set {
			if id != ev.Holder && at.before(ev.Stamp) {
				lost = append(lost, id)
				s.remove(ev.Name, id)
			}
		}
		if set = s.holders[ev.Name]; set == nil {
			set = make(map[string]stamp)
			s.holders[ev.Name] = set
		}
	}
	set[ev.Holder] = ev.Stamp
	if s.node.isLocal(ev.Holder) {
		if s.local[ev.Holder] == nil {
			s.local[ev.Holder] = make(map[string]bool)
		}
		s.local[ev.Holder][ev.Name] = true
	}
	return lost
}

// remove forgets one holder of a name. s.mu is held.
func (s *Names) remove(name, holder string) {
	if set := s.holders[name]; set != nil {
		delete(set, holder)
		if len(set) == 0 {
			delete(s.holders, name)
			delete(s.exclusive, name)
		}
	}
	if mine := s.local[holder]; mine != nil {
		delete(mine, name)
		if len(mine) == 0 {
			delete(s.local, holder)
		}
	}
	delete(s.claims, name+"\x00"+holder)
}

// publish tells every node of an event.
func (s *Names) publish(ev nameEvent) error {
	if !s.node.connected() {
		return ErrBackbone
	}
	data, _ := json.Marshal(ev)
	if err := s.node.nc.Publish(s.node.prefix+subjectNames, data); err != nil {
		return fmt.Errorf("cluster: tell the names: %w", errors.Join(ErrBackbone, err))
	}
	return nil
}

// broadcast publishes an event and waits until every live node has
// applied it: a barrier on the same subject, which each node's one handler
// answers after the events published before it.
func (s *Names) broadcast(ctx context.Context, ev nameEvent) error {
	if err := s.publish(ev); err != nil {
		return err
	}
	if want := s.node.peers.count(); want > 0 {
		sync, _ := json.Marshal(nameEvent{Op: "sync"})
		s.node.gather(ctx, subjectNames, sync, want, s.node.opts.RequestTimeout, func(*nats.Msg) {})
	}
	return nil
}

// onEvent applies another node's event, and answers a barrier.
func (s *Names) onEvent(m *nats.Msg) {
	var ev nameEvent
	if json.Unmarshal(m.Data, &ev) != nil {
		return
	}
	if ev.Op == "sync" {
		if m.Reply != "" {
			_ = m.Respond(nil)
		}
		return
	}
	s.apply(ev)
}

// onList answers a joining node with the claims of local connections.
func (s *Names) onList(m *nats.Msg) {
	if m.Reply == "" {
		return
	}
	s.mu.Lock()
	var events []nameEvent
	for holder, names := range s.local {
		for name := range names {
			at := s.holders[name][holder]
			_, excl := s.exclusive[name]
			events = append(events, nameEvent{Op: "claim", Name: name, Holder: holder, Stamp: at, Exclusive: excl && s.exclusive[name] == at})
		}
	}
	s.mu.Unlock()
	data, _ := json.Marshal(events)
	_ = m.Respond(data)
}

// EachName calls fn with every name that connections of this node hold,
// and how many of them hold it.
func (s *Names) EachName(fn func(name string, holders int)) {
	s.mu.Lock()
	count := map[string]int{}
	for _, names := range s.local {
		for name := range names {
			count[name]++
		}
	}
	s.mu.Unlock()
	for name, n := range count {
		fn(name, n)
	}
}

// NamesOf returns the names a local connection holds.
func (s *Names) NamesOf(connectionID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return names.Keys(s.local[connectionID], len(s.local[connectionID]))
}

// HoldersOf returns the local connections that hold name.
func (s *Names) HoldersOf(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.holders[name] {
		if s.node.isLocal(id) {
			ids = append(ids, id)
		}
	}
	return ids
}
