package e2e

import "sync"

// placement spreads one subtest's connections and HTTP calls over the
// server's nodes, round robin, so that with several nodes a subtest's
// consecutive connections are on different nodes, and a call to the HTTP
// API about a connection is made on another node than the one holding it.
//
// Each subtest gets its own placement (see Run), so it is deterministic
// although subtests run in parallel: the subtest's 1st connection is on
// node 0, its 2nd on node 1, and so on, modulo the number of nodes. Nested
// subtests that run one after the other (t.Run without t.Parallel) share
// their parent's placement and go on counting; nested subtests that run in
// parallel must each get their own, with [env.withPlacement] (as the golden
// cases do). With one node, everything is on it.
type placement struct {
	mu    sync.Mutex
	dials int // connections placed so far
	calls int // HTTP calls placed so far
}

// withPlacement returns a copy of e with a placement of its own, whose
// first connection and first call go to node start (modulo the number of
// nodes).
func (e *env) withPlacement(start int) *env {
	c := *e
	c.place = &placement{dials: start, calls: start}
	return &c
}

// dialNode returns the index of the node that the next connection is
// dialled on.
func (e *env) dialNode() int {
	e.place.mu.Lock()
	defer e.place.mu.Unlock()
	i := e.place.dials % len(e.Nodes)
	e.place.dials++
	return i
}

// callNode returns the node for the next HTTP call. When the call concerns
// a connection (c != nil), it is a node other than c's (unless there is
// only one), the others taken in turn; otherwise every node in turn.
func (e *env) callNode(c *conn) Node {
	e.place.mu.Lock()
	k := e.place.calls
	e.place.calls++
	e.place.mu.Unlock()
	n := len(e.Nodes)
	if c == nil || n == 1 {
		return e.Nodes[k%n]
	}
	return e.Nodes[(c.node+1+k%(n-1))%n]
}

// adminURL is the management listener to call about c (nil: about no
// connection in particular), chosen by callNode.
func (e *env) adminURL(c *conn) string { return e.callNode(c).AdminURL }

// publicURL is the public listener to call about c (nil: about no
// connection in particular), chosen by callNode.
func (e *env) publicURL(c *conn) string { return e.callNode(c).PublicURL }
