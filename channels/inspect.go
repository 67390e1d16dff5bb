package channels

import "slices"

// EachChannel calls fn with every channel that has members and the number
// of its members, in no particular order, for the gateway's introspection
// API. The store is read-locked meanwhile, so fn must be quick and must not
// call the store.
func (m *Memory) EachChannel(fn func(channel string, members int)) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for channel, set := range m.members {
		fn(channel, len(set))
	}
}

// JoinedCount returns how many channels connectionID has joined.
func (m *Memory) JoinedCount(connectionID string) int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.joined[connectionID])
}

// Joined returns the channels connectionID has joined, sorted.
func (m *Memory) Joined(connectionID string) []string {
	m.mu.RLock()
	chans := make([]string, 0, len(m.joined[connectionID]))
	for channel := range m.joined[connectionID] {
		chans = append(chans, channel)
	}
	m.mu.RUnlock()
	slices.Sort(chans)
	return chans
}
