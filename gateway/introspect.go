package gateway

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/names"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// The introspection API describes the connections, channels, names and
// nodes of the gateway (of every node, in a cluster). This file answers its
// queries about this node; introspect_api.go serves them over HTTP and
// merges the answers of every node.

// ChannelView is implemented by an integration whose channel store can
// describe the memberships of this node's connections, for the
// introspection API. Keys are the store's: channels qualified by tenant, as
// the relay names them. The default integration and a cluster node's
// implement it; the Lambda integrations, whose channels are in DynamoDB, do
// not, and the API then lists no channels.
type ChannelView interface {
	// EachChannel calls fn with every channel that has members on this
	// node and how many; fn must be quick and must not call the store.
	EachChannel(fn func(key string, members int))
	// JoinedCount returns how many channels a connection has joined.
	JoinedCount(connectionID string) int
	// Joined returns the keys of the channels a connection has joined.
	Joined(connectionID string) []string
	// Members hands the channel's members on this node to fn, a page at a
	// time, as relay.Channels does.
	Members(ctx context.Context, key string, fn func(connectionIDs []string) error) error
}

// NameView is implemented by an integration that keeps names claimed by
// connections, for the introspection API, as ChannelView is for channels.
// Keys are qualified by tenant as channel keys are. Without it the API
// lists no names.
type NameView interface {
	// EachName calls fn with every name held on this node and how many
	// of its connections hold it.
	EachName(fn func(key string, holders int))
	// NamesOf returns the keys of the names a connection holds.
	NamesOf(connectionID string) []string
	// Holders returns the connections of this node that hold a name.
	Holders(key string) []string
}

// memoryIntegration is the default integration: the relay over an
// in-memory channel store, which it shows to the introspection API.
type memoryIntegration struct {
	*relay.Relay
	*channels.Memory
	names *names.Memory
}

var (
	_ ChannelView = memoryIntegration{}
	_ NameView    = memoryIntegration{}
)

// EachName calls fn with every name held and how many hold it.
func (m memoryIntegration) EachName(fn func(key string, holders int)) { m.names.EachName(fn) }

// NamesOf returns the names a connection holds.
func (m memoryIntegration) NamesOf(connectionID string) []string {
	return m.names.NamesOf(connectionID)
}

// Holders returns the connections that hold a name.
func (m memoryIntegration) Holders(key string) []string { return m.names.HoldersOf(key) }

// Bounds of the introspection API.
const (
	// maxPageLimit bounds a page, and offset plus limit.
	maxPageLimit     = 1000
	defaultPageLimit = 100
	// maxQueryLength bounds the search text.
	maxQueryLength = 256
	// maxHolderIDs bounds the holders listed with a name.
	maxHolderIDs = 100
	// maxUserAgentListed bounds a user agent in a list (not in a detail).
	maxUserAgentListed = 200
	// remoteAnswerBytes bounds another node's answer, under NATS's default
	// maximum message of 1 MiB; a node cuts its page to fit and says so.
	remoteAnswerBytes = 512 << 10
)

// query is one question to a node, in JSON between the nodes of a cluster.
type query struct {
	Kind  string  `json:"kind"`         // "connections", "connection", "channels", "names", "node"
	ID    string  `json:"id,omitempty"` // kind "connection"
	Where filter  `json:"where"`
	Sort  string  `json:"sort,omitempty"`
	After *cursor `json:"after,omitempty"`
	// Limit is how many items the node returns at most (offset plus limit
	// of the request); MaxBytes bounds its answer (0: no bound).
	Limit    int `json:"limit,omitempty"`
	MaxBytes int `json:"maxBytes,omitempty"`
}

// filter selects connections, channels or names.
type filter struct {
	Text    string `json:"text,omitempty"`    // lower case; in any of the text fields
	Tenant  string `json:"tenant,omitempty"`  // a tenant's label
	Channel string `json:"channel,omitempty"` // connections: members of this channel (with Tenant)
	Name    string `json:"name,omitempty"`    // connections: holders of this name (with Tenant)
	Node    string `json:"node,omitempty"`    // connections: of this node
}

// page is a node's answer to a list query: the first items after the
// cursor in the query's order, how many items match in all, and whether
// items after the last one were left out.
type page[T any] struct {
	Items []T  `json:"items"`
	Total int  `json:"total"`
	More  bool `json:"more,omitempty"`
}

// connectionEntry is a connection as the introspection API shows it.
type connectionEntry struct {
	ID           string    `json:"id"`
	Node         string    `json:"node,omitempty"`
	Tenant       string    `json:"tenant"`
	Names        []string  `json:"names,omitempty"`
	Channels     int       `json:"channels"`
	SourceIP     string    `json:"sourceIp"`
	UserAgent    string    `json:"userAgent"`
	Stage        string    `json:"stage,omitempty"`
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	MessagesIn   uint64    `json:"messagesIn"`
	BytesIn      uint64    `json:"bytesIn"`
	MessagesOut  uint64    `json:"messagesOut"`
	BytesOut     uint64    `json:"bytesOut"`
	QueuedFrames int       `json:"queuedFrames"`
	QueuedBytes  int       `json:"queuedBytes"`
	// ChannelList is the connection's channels, in a detail only.
	ChannelList []string `json:"channelList,omitempty"`
}

// channelEntry is a channel, or a name, with its members (holders).
type channelEntry struct {
	Tenant  string `json:"tenant"`
	Name    string `json:"name"`
	Members int    `json:"members"`
	// Nodes counts the members on each node, in a cluster.
	Nodes map[string]int `json:"nodes,omitempty"`
	// Holders are some of a name's holders (at most 100).
	Holders []string `json:"holders,omitempty"`
}

// cursor is the position after which a page starts: the sort key of the
// last item of the previous page.
type cursor struct {
	Sort string `json:"s"`
	Num  int64  `json:"n,omitempty"`
	Text string `json:"t,omitempty"`
	ID   string `json:"i,omitempty"`
}

func (c cursor) encode() string {
	data, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeCursor(s string) (*cursor, error) {
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errors.New("cursor is not one this API returned")
	}
	var c cursor
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, errors.New("cursor is not one this API returned")
	}
	return &c, nil
}

// sortKey orders items: by Num, then Text, then ID.
type sortKey struct {
	num  int64
	text string
	id   string
}

func compareKeys(a, b sortKey) int {
	return cmp.Or(cmp.Compare(a.num, b.num), strings.Compare(a.text, b.text), strings.Compare(a.id, b.id))
}

// connectionSorts are the orders connections can be listed in, each with
// its key. A "-" before the name reverses it.
var connectionSorts = map[string]func(e *connectionEntry) sortKey{
	"id":          func(e *connectionEntry) sortKey { return sortKey{id: e.ID} },
	"connectedAt": func(e *connectionEntry) sortKey { return sortKey{num: e.ConnectedAt.UnixNano(), id: e.ID} },
	"lastActive":  func(e *connectionEntry) sortKey { return sortKey{num: e.LastActiveAt.UnixNano(), id: e.ID} },
	"messagesIn":  func(e *connectionEntry) sortKey { return sortKey{num: int64(e.MessagesIn), id: e.ID} },
	"messagesOut": func(e *connectionEntry) sortKey { return sortKey{num: int64(e.MessagesOut), id: e.ID} },
	"bytesIn":     func(e *connectionEntry) sortKey { return sortKey{num: int64(e.BytesIn), id: e.ID} },
	"bytesOut":    func(e *connectionEntry) sortKey { return sortKey{num: int64(e.BytesOut), id: e.ID} },
	"queue":       func(e *connectionEntry) sortKey { return sortKey{num: int64(e.QueuedBytes), id: e.ID} },
	"channels":    func(e *connectionEntry) sortKey { return sortKey{num: int64(e.Channels), id: e.ID} },
	"tenant":      func(e *connectionEntry) sortKey { return sortKey{text: e.Tenant, id: e.ID} },
	"sourceIp":    func(e *connectionEntry) sortKey { return sortKey{text: e.SourceIP, id: e.ID} },
}

// defaultConnectionSort lists the newest connections first.
const defaultConnectionSort = "-connectedAt"

// order is a sort of connections, or the one order of channels and names.
type order[T any] struct {
	name string
	key  func(*T) sortKey
	desc bool
}

func (o order[T]) compare(a, b *T) int {
	c := compareKeys(o.key(a), o.key(b))
	if o.desc {
		return -c
	}
	return c
}

// afterCursor reports whether item comes after the cursor (true with none).
func (o order[T]) afterCursor(item *T, after *cursor) bool {
	if after == nil {
		return true
	}
	c := compareKeys(o.key(item), sortKey{num: after.Num, text: after.Text, id: after.ID})
	if o.desc {
		c = -c
	}
	return c > 0
}

func (o order[T]) cursorOf(item *T) cursor {
	k := o.key(item)
	return cursor{Sort: o.name, Num: k.num, Text: k.text, ID: k.id}
}

func connectionOrder(name string) (order[connectionEntry], error) {
	if name == "" {
		name = defaultConnectionSort
	}
	field, desc := strings.CutPrefix(name, "-")
	key, ok := connectionSorts[field]
	if !ok {
		fields := make([]string, 0, len(connectionSorts))
		for f := range connectionSorts {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		return order[connectionEntry]{}, fmt.Errorf("sort %q: want one of %s, with - before it for descending order", name, strings.Join(fields, ", "))
	}
	return order[connectionEntry]{name: name, key: key, desc: desc}, nil
}

// channelOrder lists channels and names by tenant, then name.
var channelOrder = order[channelEntry]{
	name: "name",
	key:  func(e *channelEntry) sortKey { return sortKey{text: e.Tenant + "\x00" + e.Name} },
}

// cut sorts the items that come after the cursor, and keeps the first
// limit of them.
func cut[T any](items []T, o order[T], limit int) page[T] {
	slices.SortFunc(items, func(a, b T) int { return o.compare(&a, &b) })
	p := page[T]{Items: items}
	if len(items) > limit {
		p.Items, p.More = items[:limit], true
	}
	return p
}

// nodeName is this node's name in a cluster, "" alone.
func (g *Gateway) nodeName() string {
	if c, ok := g.opts.Remote.(Cluster); ok {
		return c.NodeName()
	}
	return ""
}

func (g *Gateway) channelView() ChannelView {
	v, _ := g.integration.(ChannelView)
	return v
}

func (g *Gateway) nameView() NameView {
	v, _ := g.integration.(NameView)
	return v
}

// entry describes c.
func (g *Gateway) entry(c *conn, node string, channels ChannelView, names NameView) connectionEntry {
	e := connectionEntry{
		ID:           c.id,
		Node:         node,
		Tenant:       g.keys.label(c.tenant),
		SourceIP:     c.sourceIP,
		UserAgent:    c.userAgent,
		Stage:        c.stage,
		ConnectedAt:  time.Unix(0, c.connectedAt).UTC(),
		LastActiveAt: time.Unix(0, c.lastActive.Load()).UTC(),
		MessagesIn:   c.traffic.messagesIn.Load(),
		BytesIn:      c.traffic.bytesIn.Load(),
	}
	c.mu.Lock()
	e.MessagesOut, e.BytesOut = c.traffic.messagesOut, c.traffic.bytesOut
	e.QueuedFrames, e.QueuedBytes = int(c.pendingFrames+c.flightFrames), c.flightBytes+c.pending.bytes
	c.mu.Unlock()
	if channels != nil {
		e.Channels = channels.JoinedCount(c.id)
	}
	if names != nil {
		for _, key := range names.NamesOf(c.id) {
			_, name := g.keys.splitKey(key)
			e.Names = append(e.Names, name)
		}
	}
	return e
}

// matches reports whether e passes the text and tenant of f.
func (e *connectionEntry) matches(f *filter) bool {
	if f.Tenant != "" && e.Tenant != f.Tenant {
		return false
	}
	if f.Text == "" {
		return true
	}
	for _, field := range []string{e.ID, e.SourceIP, e.UserAgent, e.Tenant, e.Node} {
		if strings.Contains(strings.ToLower(field), f.Text) {
			return true
		}
	}
	for _, name := range e.Names {
		if strings.Contains(strings.ToLower(name), f.Text) {
			return true
		}
	}
	return false
}

// localConnections answers a connections query for this node.
func (g *Gateway) localConnections(ctx context.Context, q *query) (page[connectionEntry], error) {
	o, err := connectionOrder(q.Sort)
	if err != nil {
		return page[connectionEntry]{}, err
	}
	node := g.nodeName()
	if q.Where.Node != "" && q.Where.Node != node {
		return page[connectionEntry]{Items: []connectionEntry{}}, nil
	}
	channels, names := g.channelView(), g.nameView()
	members, err := g.membersOf(ctx, &q.Where, channels, names)
	if err != nil {
		return page[connectionEntry]{}, err
	}
	var items []connectionEntry
	total := 0
	g.conns.each(func(c *conn) {
		if members != nil && !members[c.id] {
			return
		}
		e := g.entry(c, node, channels, names)
		if !e.matches(&q.Where) {
			return
		}
		total++
		if o.afterCursor(&e, q.After) {
			if len(e.UserAgent) > maxUserAgentListed {
				e.UserAgent = e.UserAgent[:maxUserAgentListed] + "…"
			}
			items = append(items, e)
		}
	})
	p := cut(items, o, q.Limit)
	p.Total = total
	if p.Items == nil {
		p.Items = []connectionEntry{}
	}
	return p, nil
}

// membersOf returns the connections of this node in the filter's channel
// or name, or nil when the filter names neither.
func (g *Gateway) membersOf(ctx context.Context, f *filter, channels ChannelView, names NameView) (map[string]bool, error) {
	if f.Channel == "" && f.Name == "" {
		return nil, nil
	}
	tenant, ok := g.keys.tenantOfLabel(cmp.Or(f.Tenant, singleTenantLabel))
	if !ok {
		return map[string]bool{}, nil
	}
	set := make(map[string]bool)
	if f.Channel != "" && channels != nil {
		err := channels.Members(ctx, joinKey(tenant, f.Channel), func(ids []string) error {
			for _, id := range ids {
				set[id] = true
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("members of channel %q: %w", f.Channel, err)
		}
	}
	if f.Name != "" {
		holders := make(map[string]bool)
		if names != nil {
			for _, id := range names.Holders(joinKey(tenant, f.Name)) {
				if f.Channel == "" || set[id] {
					holders[id] = true
				}
			}
		}
		set = holders
	}
	return set, nil
}

// localConnection describes one connection of this node in detail; ok is
// false when it is not here.
func (g *Gateway) localConnection(id string) (connectionEntry, bool) {
	c := g.conns.get(id)
	if c == nil || c.isClosing() {
		return connectionEntry{}, false
	}
	channels := g.channelView()
	e := g.entry(c, g.nodeName(), channels, g.nameView())
	if channels != nil {
		for _, key := range channels.Joined(id) {
			_, name := g.keys.splitKey(key)
			e.ChannelList = append(e.ChannelList, name)
		}
	}
	return e, true
}

// localGroups answers a channels or names query for this node.
func (g *Gateway) localGroups(q *query) page[channelEntry] {
	var items []channelEntry
	total := 0
	add := func(key string, members int) {
		tenant, name := g.keys.splitKey(key)
		if q.Where.Tenant != "" && tenant != q.Where.Tenant {
			return
		}
		if q.Where.Text != "" && !strings.Contains(strings.ToLower(name), q.Where.Text) {
			return
		}
		total++
		e := channelEntry{Tenant: tenant, Name: name, Members: members}
		if channelOrder.afterCursor(&e, q.After) {
			items = append(items, e)
		}
	}
	if q.Kind == "channels" {
		if v := g.channelView(); v != nil {
			v.EachChannel(add)
		}
	} else if v := g.nameView(); v != nil {
		v.EachName(add)
	}
	p := cut(items, channelOrder, q.Limit)
	p.Total = total
	if node := g.nodeName(); node != "" {
		for i := range p.Items {
			p.Items[i].Nodes = map[string]int{node: p.Items[i].Members}
		}
	}
	if q.Kind == "names" {
		if v := g.nameView(); v != nil {
			for i := range p.Items {
				tenant, _ := g.keys.tenantOfLabel(p.Items[i].Tenant)
				holders := v.Holders(joinKey(tenant, p.Items[i].Name))
				p.Items[i].Holders = holders[:min(len(holders), maxHolderIDs)]
			}
		}
	}
	if p.Items == nil {
		p.Items = []channelEntry{}
	}
	return p
}

// Introspect answers a query of the introspection API about this node
// alone. The nodes of a cluster call it for the node that gathers every
// node's answer (see [Cluster]); query and answer are JSON whose shapes
// are the gateway's own, the same on every node of one version. Errors
// match wire.ErrBadRequest for a query it does not understand.
func (g *Gateway) Introspect(ctx context.Context, queryJSON []byte) ([]byte, error) {
	var q query
	if err := json.Unmarshal(queryJSON, &q); err != nil {
		return nil, wire.NewError(wire.CodeBadRequest, "introspection query: "+err.Error())
	}
	q.Limit = min(max(q.Limit, 1), maxPageLimit)
	var answer any
	switch q.Kind {
	case "connections":
		p, err := g.localConnections(ctx, &q)
		if err != nil {
			return nil, wire.NewError(wire.CodeBadRequest, err.Error())
		}
		if q.MaxBytes > 0 {
			fitPage(&p, q.MaxBytes)
		}
		answer = p
	case "connection":
		e, ok := g.localConnection(q.ID)
		if !ok {
			return nil, goneError(q.ID)
		}
		answer = e
	case "channels", "names":
		p := g.localGroups(&q)
		if q.MaxBytes > 0 {
			fitPage(&p, q.MaxBytes)
		}
		answer = p
	case "node":
		answer = g.localNode()
	default:
		return nil, wire.NewError(wire.CodeBadRequest, "introspection query: unknown kind "+string(wire.AppendString(nil, q.Kind)))
	}
	data, err := json.Marshal(answer)
	if err != nil {
		return nil, fmt.Errorf("gateway: encode introspection answer: %w", err)
	}
	return data, nil
}

// fitPage drops items from the end of p until its JSON fits in maxBytes,
// keeping at least one, and marks it cut.
func fitPage[T any](p *page[T], maxBytes int) {
	size := 64
	for i := range p.Items {
		data, _ := json.Marshal(&p.Items[i])
		size += len(data) + 1
		if size > maxBytes && i > 0 {
			p.Items, p.More = p.Items[:i], true
			return
		}
	}
}
