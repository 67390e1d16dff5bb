// Package names holds the in-memory [relay.Names] store that a single
// gateway node uses: which connections hold which names.
package names

import (
	"context"
	"sync"

	"github.com/monologue-go/monologue/relay"
)

// DefaultMaxPerConnection bounds how many names one connection may hold.
const DefaultMaxPerConnection = 64

// Memory is a relay.Names store in memory. The zero value is not usable;
// call NewMemory.
type Memory struct {
	maxPerConn int

	mu      sync.RWMutex
	holders map[string]map[string]struct{} // name -> connection IDs
	held    map[string]map[string]struct{} // connection ID -> names
}

var _ relay.Names = (*Memory)(nil)

// NewMemory returns an empty store that lets one connection hold at most
// maxPerConnection names (zero: DefaultMaxPerConnection); past that, Claim
// returns an error matching wire.ErrLimitExceeded.
func NewMemory(maxPerConnection int) *Memory {
	if maxPerConnection <= 0 {
		maxPerConnection = DefaultMaxPerConnection
	}
	return &Memory{
		maxPerConn: maxPerConnection,
		holders:    make(map[string]map[string]struct{}),
		held:       make(map[string]map[string]struct{}),
	}
}

// Claim makes connectionID a holder of name; with exclusive, it takes the
// name from every other holder and returns them. Under one lock, so of two
// racing exclusive claims exactly one holds the name afterwards.
func (m *Memory) Claim(_ context.Context, c relay.Claim) ([]string, error) {
	name, connectionID, exclusive := c.Name, c.ConnectionID, c.Exclusive
	m.mu.Lock()
	defer m.mu.Unlock()
	mine := m.held[connectionID]
	if _, ok := mine[name]; !ok && len(mine) >= m.maxPerConn {
		return nil, relay.ErrNameLimit(m.maxPerConn)
	}
	var released []string
	if exclusive {
		for other := range m.holders[name] {
			if other != connectionID {
				released = append(released, other)
			}
		}
		for _, other := range released {
			m.remove(name, other)
		}
	}
	if mine == nil {
		mine = make(map[string]struct{})
		m.held[connectionID] = mine
	}
	mine[name] = struct{}{}
	set := m.holders[name]
	if set == nil {
		set = make(map[string]struct{})
		m.holders[name] = set
	}
	set[connectionID] = struct{}{}
	return released, nil
}

// Release makes connectionID no longer hold name.
func (m *Memory) Release(_ context.Context, name, connectionID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.remove(name, connectionID)
	return nil
}

// remove forgets that connectionID holds name; m.mu is held.
func (m *Memory) remove(name, connectionID string) {
	if set := m.holders[name]; set != nil {
		delete(set, connectionID)
		if len(set) == 0 {
			delete(m.holders, name)
		}
	}
	if mine := m.held[connectionID]; mine != nil {
		delete(mine, name)
		if len(mine) == 0 {
			delete(m.held, connectionID)
		}
	}
}

// Holders returns at most limit holders of name and how many there are.
func (m *Memory) Holders(_ context.Context, name string, limit int) ([]string, int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	set := m.holders[name]
	return Keys(set, limit), len(set), nil
}

// Keys returns at most limit keys of set, in no particular order.
func Keys[V any](set map[string]V, limit int) []string {
	ids := make([]string, 0, min(limit, len(set)))
	for id := range set {
		if len(ids) == limit {
			break
		}
		ids = append(ids, id)
	}
	return ids
}

// DropConnection releases every name connectionID holds.
func (m *Memory) DropConnection(_ context.Context, connectionID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name := range m.held[connectionID] {
		m.remove(name, connectionID)
	}
	return nil
}

// Len returns the number of names with at least one holder.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.holders)
}

// EachName calls fn with every name held and how many hold it; fn must be
// quick and must not call the store.
func (m *Memory) EachName(fn func(name string, holders int)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for name, set := range m.holders {
		fn(name, len(set))
	}
}

// NamesOf returns the names a connection holds.
func (m *Memory) NamesOf(connectionID string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Keys(m.held[connectionID], len(m.held[connectionID]))
}

// HoldersOf returns every holder of name.
func (m *Memory) HoldersOf(name string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return Keys(m.holders[name], len(m.holders[name]))
}
