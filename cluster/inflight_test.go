package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// TestInFlightEndsWhenNodeGone plays a node that dies with a delivery in
// flight: it beats, takes deliveries and never answers, then goes. The
// delivery in flight ends as soon as a later one finds the node gone —
// internal, since it may have arrived — not after the whole request
// timeout, which would hold up every frame its sender sends after it.
func TestInFlightEndsWhenNodeGone(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	a := startNode(t, cluster.Options{Conn: backbone.Connect(t), RequestTimeout: 5 * time.Second}, gateway.Options{APIKeys: senderKeys})

	// The other node, by hand: a heartbeat, and a delivery subject that
	// swallows what it gets.
	ghost := backbone.Connect(t)
	tag := wire.NewNodeTag()
	beat := fmt.Sprintf(`{"tag":%q,"started":%q,"connections":1}`, tag.String(), time.Now().Format(time.RFC3339Nano))
	if err := ghost.Publish("monologue."+cluster.DefaultName+".hb", []byte(beat)); err != nil {
		t.Fatal(err)
	}
	swallowed := make(chan struct{}, 1)
	sub, err := ghost.Subscribe("monologue."+cluster.DefaultName+".n."+tag.String()+".d", func(m *nats.Msg) {
		select {
		case swallowed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ghost.Flush(); err != nil {
		t.Fatal(err)
	}
	waitNodes(t, 2, a)

	to := wire.NewConnectionIDOn(tag)
	sent := time.Now()
	inFlight := make(chan error, 1)
	go func() {
		inFlight <- a.node.Sender().Send(context.Background(), relay.Delivery{To: to, Frame: []byte("lost")})
	}()
	select {
	case <-swallowed:
	case <-time.After(5 * time.Second):
		t.Fatal("the delivery never reached the other node")
	}
	_ = sub.Unsubscribe() // the node dies
	if err := ghost.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := a.node.Sender().Send(context.Background(), relay.Delivery{To: to, Frame: []byte("after")}); !errors.Is(err, wire.ErrGone) {
		t.Fatalf("a delivery after the node went: %v, want gone", err)
	}
	select {
	case err := <-inFlight:
		took := time.Since(sent)
		if !errors.Is(err, wire.ErrInternal) {
			t.Errorf("the delivery in flight as the node went: %v, want internal", err)
		}
		t.Logf("the delivery in flight ended after %v (request timeout 5 s)", took.Round(time.Millisecond))
	case <-time.After(3 * time.Second):
		t.Fatal("the delivery in flight still waits 3 s after the node was found gone")
	}
}
