// Package channels holds the in-memory [relay.Channels] store that a single
// gateway node uses.
package channels

import (
	"context"
	"sync"

	"github.com/monologue-go/monologue/relay"
)

// DefaultMaxPerConnection bounds how many channels one connection may join.
const DefaultMaxPerConnection = 1000

// pageSize is how many members Members hands over at a time.
const pageSize = 1024

// Memory is a relay.Channels store in memory. The zero value is not usable;
// call NewMemory or New.
type Memory struct {
	maxPerConn int
	onChannel  func(channel string, occupied bool)

	mu      sync.RWMutex
	members map[string]map[string]struct{} // channel -> connection IDs
	joined  map[string]map[string]struct{} // connection ID -> channels
}

var _ relay.Channels = (*Memory)(nil)

// NewMemory returns an empty store that lets one connection join at most
// maxPerConnection channels (zero: DefaultMaxPerConnection); past that,
// Subscribe returns an error matching wire.ErrLimitExceeded.
func NewMemory(maxPerConnection int) *Memory {
	return New(Options{MaxPerConnection: maxPerConnection})
}

// Options configures a [Memory] store made by [New].
type Options struct {
	// MaxPerConnection bounds how many channels one connection may join.
	// Zero: DefaultMaxPerConnection.
	MaxPerConnection int
	// OnChannel, when not nil, is told when a channel gains its first
	// member (occupied) and when it loses its last. It is called with the
	// store locked, in the order the changes happen, so it must be quick
	// and must not call the store. A store of one node of a cluster uses it
	// to take an interest in a channel exactly while it has local members.
	OnChannel func(channel string, occupied bool)
}

// New returns an empty store configured by opts.
func New(opts Options) *Memory {
	if opts.MaxPerConnection <= 0 {
		opts.MaxPerConnection = DefaultMaxPerConnection
	}
	return &Memory{
		maxPerConn: opts.MaxPerConnection,
		onChannel:  opts.OnChannel,
		members:    make(map[string]map[string]struct{}),
		joined:     make(map[string]map[string]struct{}),
	}
}

// Subscribe adds connectionID to channel.
func (m *Memory) Subscribe(_ context.Context, channel, connectionID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	chans := m.joined[connectionID]
	if _, ok := chans[channel]; ok {
		return nil
	}
	if len(chans) >= m.maxPerConn {
		return relay.ErrChannelLimit(m.maxPerConn)
	}
	if chans == nil {
		chans = make(map[string]struct{})
		m.joined[connectionID] = chans
	}
	chans[channel] = struct{}{}
	set := m.members[channel]
	if set == nil {
		set = make(map[string]struct{})
		m.members[channel] = set
		if m.onChannel != nil {
			m.onChannel(channel, true)
		}
	}
	set[connectionID] = struct{}{}
	return nil
}

// Unsubscribe removes connectionID from channel.
func (m *Memory) Unsubscribe(_ context.Context, channel, connectionID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(channel, connectionID)
	if chans := m.joined[connectionID]; chans != nil {
		delete(chans, channel)
		if len(chans) == 0 {
			delete(m.joined, connectionID)
		}
	}
	return nil
}

func (m *Memory) remove(channel, connectionID string) {
	set, ok := m.members[channel]
	if !ok {
		return
	}
	delete(set, connectionID)
	if len(set) == 0 {
		delete(m.members, channel)
		if m.onChannel != nil {
			m.onChannel(channel, false)
		}
	}
}

// Members hands the channel's subscribers to fn in pages, outside the lock.
func (m *Memory) Members(ctx context.Context, channel string, fn func([]string) error) error {
	m.mu.RLock()
	set := m.members[channel]
	ids := make([]string, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	m.mu.RUnlock()
	for start := 0; start < len(ids); start += pageSize {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(ids[start:min(start+pageSize, len(ids))]); err != nil {
			return err
		}
	}
	return nil
}

// DropConnection removes connectionID from every channel it joined, and
// returns those channels.
func (m *Memory) DropConnection(_ context.Context, connectionID string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var left []string
	for channel := range m.joined[connectionID] {
		m.remove(channel, connectionID)
		left = append(left, channel)
	}
	delete(m.joined, connectionID)
	return left, nil
}

// Len returns the number of channels with at least one member.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.members)
}
