package gateway

import (
	"hash/maphash"
	"sync"
)

// shardCount splits the connection table so that lookups from many senders
// do not contend on one lock.
const shardCount = 32

// table maps connection IDs to connections.
type table struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

type shard struct {
	mu    sync.RWMutex
	conns map[string]*conn
}

func newTable() *table {
	t := &table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].conns = make(map[string]*conn)
	}
	return t
}

func (t *table) shard(id string) *shard {
	return &t.shards[maphash.String(t.seed, id)%shardCount]
}

// get returns the connection with the given ID, or nil.
func (t *table) get(id string) *conn {
	s := t.shard(id)
	s.mu.RLock()
	c := s.conns[id]
	s.mu.RUnlock()
	return c
}

func (t *table) add(c *conn) {
	s := t.shard(c.id)
	s.mu.Lock()
	s.conns[c.id] = c
	s.mu.Unlock()
}

func (t *table) remove(id string) {
	s := t.shard(id)
	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
}

// len returns the number of connections.
func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		n += len(s.conns)
		s.mu.RUnlock()
	}
	return n
}

// each calls fn for every connection, outside the shard locks.
func (t *table) each(fn func(*conn)) {
	var batch []*conn
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.RLock()
		for _, c := range s.conns {
			batch = append(batch, c)
		}
		s.mu.RUnlock()
		for _, c := range batch {
			fn(c)
		}
		batch = batch[:0]
	}
}
