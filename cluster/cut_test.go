package cluster_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
)

// TestPublicationBeforeInterest plays a node that publishes to a channel
// just before it answers the barrier another node runs as it takes an
// interest in that channel — as a publication made before the subscription,
// but still in the publisher's buffers, arrives. The new member does not
// get it; it gets the one published after the answer, and before that its
// "subscribed".
func TestPublicationBeforeInterest(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	a := startNode(t, cluster.Options{Conn: backbone.Connect(t)}, gateway.Options{APIKeys: []string{deathKey}})
	g := newGhost(t, backbone)
	waitNodes(t, 2, a)

	member := dialNode(t, a.srv.URL)
	tenant, _ := a.srv.Gateway.TenantOf(member.id)
	const channel = "cut"
	prefix := clusterPrefix
	subject := prefix + "c." + base64.RawURLEncoding.EncodeToString([]byte(channel))
	publication := func(payload string) []byte {
		var b []byte
		for _, f := range []string{"", tenant, "", ""} { // skip, tenant, member, label
			b = field(b, f)
		}
		b = append(b, 0) // not a presence event
		return append(b, `{"channel":"cut","from":"ghost","payload":"`+payload+`"}`...)
	}
	asked := make(chan struct{}, 1)
	sync, err := g.nc.Subscribe(prefix+"sync", func(m *nats.Msg) {
		_ = g.nc.Publish(subject, publication("early"))
		_ = m.Respond(nil)
		_ = g.nc.Publish(subject, publication("late"))
		asked <- struct{}{}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sync.Unsubscribe()
	if err := g.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	// The late publication may come before the "subscribed" reply, as one
	// made by another connection of the same node may.
	late := `{"channel":"cut","from":"ghost","payload":"late"}`
	want := map[string]bool{`{"action":"subscribed","channel":"cut"}`: true, late: true}
	if got := member.ask(`{"action":"subscribe","channel":"cut"}`); !want[got] {
		t.Fatalf("subscribe: got %s", got)
	} else {
		delete(want, got)
	}
	select {
	case <-asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the node never ran a barrier as it took an interest in the channel")
	}
	if got := member.read(5 * time.Second); !want[got] {
		t.Fatalf("the new member got %s, want the publication made after the barrier and its subscribed reply", got)
	}
	if got := member.ask("whoami"); got != member.id {
		t.Fatalf("after the late publication: %s, want nothing more", got)
	}
}
