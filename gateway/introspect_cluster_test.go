package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

// clusterNode is a gateway node of a test cluster.
type clusterNode struct {
	srv  *gatewaytest.Server
	node *cluster.Node
	nc   *nats.Conn
}

// startTestCluster starts n gateway nodes, each with an embedded NATS
// server routed to the others', and waits until every node knows them all.
func startTestCluster(t *testing.T, n int) []clusterNode {
	t.Helper()
	servers := clustertest.Embedded(t, "introspection", n)
	var nodes []clusterNode
	for i := range n {
		nc := clustertest.Connect(t, servers[i])
		logger := slog.New(slog.DiscardHandler)
		node, err := cluster.New(context.Background(), cluster.Options{Conn: nc, Address: fmt.Sprintf("ws://node%d.test/", i), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		opts := gateway.Options{APIKeys: []string{testKey}, Address: fmt.Sprintf("ws://node%d.test/", i), Logger: logger}
		node.Configure(&opts)
		nodes = append(nodes, clusterNode{srv: gatewaytest.Start(t, opts), node: node, nc: nc})
	}
	for _, cn := range nodes {
		eventually(t, 10*time.Second, "every node to know the others", func() bool { return len(cn.node.Nodes()) == n })
	}
	return nodes
}

// TestIntrospectionCluster: the API of any node lists the connections,
// channels and nodes of every node, each entry naming its node, pages
// through them, and acts on a connection wherever it is; a node that does
// not answer is named.
func TestIntrospectionCluster(t *testing.T) {
	nodes := startTestCluster(t, 3)
	type peer struct {
		c    *client
		id   string
		node string
	}
	var peers []peer
	for i, cn := range nodes {
		for range 2 {
			c := (&server{url: cn.srv.URL}).dial(t)
			p := peer{c: c, id: c.whoami(), node: cn.node.NodeName()}
			c.send(`{"action":"subscribe","channel":"news"}`)
			c.read()
			if i < 2 {
				c.send(`{"action":"subscribe","channel":"sport"}`)
				c.read()
			}
			peers = append(peers, p)
		}
	}
	admin := nodes[2].srv.AdminURL

	var list apiList[apiConnection]
	getJSON(t, admin, "/api/connections?limit=1000", http.StatusOK, &list)
	if len(list.Items) != 6 || *list.Total != 6 || len(list.Missing) != 0 {
		t.Fatalf("connections: %v total %v missing %v", ids(list.Items), *list.Total, list.Missing)
	}
	nodeOf := map[string]string{}
	for _, c := range list.Items {
		nodeOf[c.ID] = c.Node
	}
	for _, p := range peers {
		if nodeOf[p.id] != p.node {
			t.Errorf("connection %s: node %q, want %q", p.id, nodeOf[p.id], p.node)
		}
	}

	// Paged one at a time across the nodes, every connection once.
	var seen []string
	cursor := ""
	for range 10 {
		getJSON(t, admin, "/api/connections?limit=1&sort=id&cursor="+cursor, http.StatusOK, &list)
		seen = append(seen, ids(list.Items)...)
		if cursor = list.Next; cursor == "" {
			break
		}
	}
	if len(seen) != 6 || !slices.IsSorted(seen) {
		t.Errorf("paged: %v", seen)
	}
	getJSON(t, admin, "/api/connections?node="+nodes[0].node.NodeName(), http.StatusOK, &list)
	if len(list.Items) != 2 {
		t.Errorf("node filter: %v", ids(list.Items))
	}
	getJSON(t, admin, "/api/connections?channel=sport", http.StatusOK, &list)
	if len(list.Items) != 4 {
		t.Errorf("members of sport: %v", ids(list.Items))
	}

	var channels apiList[apiChannel]
	getJSON(t, nodes[1].srv.AdminURL, "/api/channels", http.StatusOK, &channels)
	t0, t1, t2 := nodes[0].node.NodeName(), nodes[1].node.NodeName(), nodes[2].node.NodeName()
	want := fmt.Sprint([]apiChannel{
		{Tenant: "default", Name: "news", Members: 6, Nodes: map[string]int{t0: 2, t1: 2, t2: 2}},
		{Tenant: "default", Name: "sport", Members: 4, Nodes: map[string]int{t0: 2, t1: 2}},
	})
	if got := fmt.Sprint(channels.Items); got != want || channels.Total != nil {
		t.Errorf("channels %s (total %v), want %s", got, channels.Total, want)
	}

	// One connection of node 0, seen and acted on from node 2.
	target := peers[0]
	var detail apiConnection
	getJSON(t, admin, "/api/connections/"+url.PathEscape(target.id), http.StatusOK, &detail)
	if detail.Node != target.node || !slices.Equal(detail.ChannelList, []string{"news", "sport"}) {
		t.Errorf("detail: %+v", detail)
	}
	if status, _, body := httpDo(t, "POST", admin+"/api/connections/"+url.PathEscape(target.id), nil, "hello node 0"); status != http.StatusOK {
		t.Fatalf("send across nodes: %d %s", status, body)
	}
	if got := target.c.read(); got != "hello node 0" {
		t.Fatalf("sent across nodes: %q", got)
	}
	if status, _, body := httpDo(t, "POST", nodes[1].srv.AdminURL+"/api/channels/default/news", nil, "42"); status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", status, body)
	}
	for _, p := range peers {
		if got := p.c.read(); got != `{"channel":"news","payload":42}` {
			t.Fatalf("%s got %q", p.id, got)
		}
	}
	if status, _, body := httpDo(t, "DELETE", admin+"/api/connections/"+url.PathEscape(target.id), nil, ""); status != http.StatusNoContent {
		t.Fatalf("close across nodes: %d %s", status, body)
	}
	if code := target.c.closeStatus(5 * time.Second); code != websocket.CloseNormalClosure {
		t.Fatalf("closed with %d", code)
	}

	var nodeList apiList[apiNode]
	getJSON(t, nodes[0].srv.AdminURL, "/api/nodes", http.StatusOK, &nodeList)
	if len(nodeList.Items) != 3 || !nodeList.Items[0].Self || nodeList.Items[0].Node != nodes[0].node.NodeName() || nodeList.Items[0].Address != "ws://node0.test/" {
		t.Fatalf("nodes: %+v", nodeList.Items)
	}

	// Node 2 loses NATS: until the others take it for dead, they name it
	// as not answering.
	nodes[2].nc.Close()
	getJSON(t, nodes[0].srv.AdminURL, "/api/connections", http.StatusOK, &list)
	if len(list.Missing) != 1 || list.Missing[0].Node != nodes[2].node.NodeName() || len(list.Items) != 3 {
		t.Errorf("with node 2 away: %v missing %v", ids(list.Items), list.Missing)
	}
}
