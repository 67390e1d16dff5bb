package e2e

import (
	"testing"
)

// TestPlacement: a subtest's connections alternate between the nodes, each
// subtest starts again at node 0, and a call about a connection goes to the
// other node.
func TestPlacement(t *testing.T) {
	srv := startTwoListeners(t, protocolConfig)
	n0, n1 := srv.Nodes[0], srv.Nodes[1]
	if n0.URL == n1.URL || n0.PublicURL == n1.PublicURL || n0.AdminURL == n1.AdminURL {
		t.Fatalf("the two nodes share a listener: %+v", srv.Nodes)
	}
	shared := newEnv(srv, protocolConfig)
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			e := shared.withPlacement(0)
			a, b, c := e.dial(t), e.dial(t), e.dial(t)
			for _, tc := range []struct {
				name string
				conn *conn
				url  string
				node int
			}{{"1st", a, n0.URL, 0}, {"2nd", b, n1.URL, 1}, {"3rd", c, n0.URL, 0}} {
				if tc.conn.url != tc.url || tc.conn.node != tc.node {
					t.Errorf("%s connection dialled %s (node %d), want %s (node %d)", tc.name, tc.conn.url, tc.conn.node, tc.url, tc.node)
				}
			}
			if got := e.adminURL(a); got != n1.AdminURL {
				t.Errorf("a call about a connection on node 0 goes to %s, want node 1's %s", got, n1.AdminURL)
			}
			if got := e.publicURL(b); got != n0.PublicURL {
				t.Errorf("a call about a connection on node 1 goes to %s, want node 0's %s", got, n0.PublicURL)
			}
			if first, second := e.adminURL(nil), e.adminURL(nil); first == second {
				t.Errorf("calls about no connection all go to %s, want them in turn", first)
			}
			// The connections are on one relay: a message crosses listeners.
			a.name, b.name = "a", "b"
			a.send(t, `{"to":`+q(b.ID(t))+`,"payload":1}`)
			b.expectFrame(t, "a: $default to b", `{"to":`+q(b.id)+`,"from":`+q(a.ID(t))+`,"payload":1}`)
		})
	}
	t.Run("start", func(t *testing.T) {
		if c := shared.withPlacement(3).dial(t); c.url != n1.URL {
			t.Errorf("the first connection of a placement starting at 3 dialled %s, want node 1's %s", c.url, n1.URL)
		}
	})
	t.Run("one_node", func(t *testing.T) {
		e := newEnv(OneNode(n0, srv.APIKey), protocolConfig)
		a, b := e.dial(t), e.dial(t)
		if a.url != n0.URL || b.url != n0.URL {
			t.Errorf("with one node, connections dialled %s and %s, want %s", a.url, b.url, n0.URL)
		}
		if got := e.adminURL(a); got != n0.AdminURL {
			t.Errorf("with one node, a call goes to %s, want %s", got, n0.AdminURL)
		}
	})
}
