package cluster_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
)

const deathKey = "death-test-key"

// deathPeer is a WebSocket client of one node.
type deathPeer struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

func dialNode(t *testing.T, url string) *deathPeer {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, http.Header{"X-Api-Key": {deathKey}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	p := &deathPeer{t: t, ws: ws}
	p.id = p.ask("whoami")
	return p
}

func (p *deathPeer) ask(frame string) string {
	p.t.Helper()
	if err := p.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		p.t.Fatal(err)
	}
	return p.read(5 * time.Second)
}

func (p *deathPeer) read(timeout time.Duration) string {
	p.t.Helper()
	_ = p.ws.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := p.ws.ReadMessage()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return string(data)
}

// TestDeadNodeNamesAndPresence: when a node dies (its NATS goes away with
// no goodbye), the other nodes forget its names and tell the watchers of
// its channels that its members left, well within 15 s.
func TestDeadNodeNamesAndPresence(t *testing.T) {
	servers := clustertest.Embedded(t, "death", 3)
	var urls []string
	for i := range servers {
		nc := clustertest.Connect(t, servers[i])
		n, err := cluster.New(context.Background(), cluster.Options{Conn: nc, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		opts := gateway.Options{APIKeys: []string{deathKey}, Logger: quiet}
		n.Configure(&opts)
		urls = append(urls, gatewaytest.Start(t, opts).URL)
	}
	watcher := dialNode(t, urls[0])
	if got := watcher.ask(`{"action":"subscribe","channel":"room","presence":true}`); got != `{"action":"subscribed","channel":"room"}` {
		t.Fatalf("watch: %s", got)
	}
	doomed := dialNode(t, urls[2])
	if got := doomed.ask(`{"action":"claim","name":"svc"}`); got != `{"action":"claimed","name":"svc"}` {
		t.Fatalf("claim: %s", got)
	}
	if got := doomed.ask(`{"action":"subscribe","channel":"room"}`); got != `{"action":"subscribed","channel":"room"}` {
		t.Fatalf("subscribe: %s", got)
	}
	if got := watcher.read(5 * time.Second); got != `{"channel":"room","joined":"`+doomed.id+`"}` {
		t.Fatalf("joined: %s", got)
	}
	caller := dialNode(t, urls[1])
	caller.ask(`{"action":"presence","name":"svc"}`) // the claim is known everywhere

	servers[2].Shutdown() // node 2 dies: no goodbye, no heartbeats
	died := time.Now()

	if got := watcher.read(15 * time.Second); got != `{"channel":"room","left":"`+doomed.id+`"}` {
		t.Fatalf("after the death of its node: %s, want left", got)
	}
	t.Logf("left event %v after the death", time.Since(died).Round(time.Millisecond))
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := caller.ask(`{"to":"@svc","payload":1,"id":1}`)
		if strings.Contains(got, `"code":"gone"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("15 s after its holder's node died, a message to its name got %s", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := watcher.ask(`{"action":"presence","channel":"room"}`); got != `{"action":"presence","channel":"room","count":1,"members":["`+watcher.id+`"]}` {
		t.Fatalf("presence after the death: %s", got)
	}
}
