package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/monologue-go/monologue/cluster"
	"github.com/monologue-go/monologue/cluster/clustertest"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// ghost is a node played by hand over NATS: it beats, answers pings on
// its management subject, and swallows deliveries without answering.
type ghost struct {
	tag       wire.NodeTag
	subs      []*nats.Subscription
	nc        *nats.Conn
	swallowed chan struct{}
	stop      chan struct{}
	beating   sync.WaitGroup
}

func newGhost(t *testing.T, backbone *clustertest.NATS) *ghost {
	t.Helper()
	g := &ghost{tag: wire.NewNodeTag(), nc: backbone.Connect(t), swallowed: make(chan struct{}, 1)}
	prefix := "monologue." + cluster.DefaultName + "."
	deliveries, err := g.nc.Subscribe(prefix+"n."+g.tag.String()+".d", func(*nats.Msg) {
		select {
		case g.swallowed <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	manage, err := g.nc.Subscribe(prefix+"n."+g.tag.String()+".m", func(m *nats.Msg) {
		_ = m.Respond([]byte{0}) // success, no result
	})
	if err != nil {
		t.Fatal(err)
	}
	g.subs = []*nats.Subscription{deliveries, manage}
	beat := fmt.Sprintf(`{"tag":%q,"started":%q,"connections":1}`, g.tag.String(), time.Now().Format(time.RFC3339Nano))
	if err := g.nc.Publish(prefix+"hb", []byte(beat)); err != nil {
		t.Fatal(err)
	}
	if err := g.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	g.stop = make(chan struct{})
	g.beating.Go(func() {
		tick := time.NewTicker(cluster.DefaultHeartbeatInterval)
		defer tick.Stop()
		for {
			select {
			case <-g.stop:
				return
			case <-tick.C:
				_ = g.nc.Publish(prefix+"hb", []byte(beat))
			}
		}
	})
	t.Cleanup(g.stopBeating)
	return g
}

func (g *ghost) stopBeating() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	g.beating.Wait()
}

// die stops listening, as a killed node's subscriptions go with it.
func (g *ghost) die(t *testing.T) {
	t.Helper()
	g.stopBeating()
	for _, s := range g.subs {
		_ = s.Unsubscribe()
	}
	if err := g.nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

// sendInFlight sends a delivery to a connection of g from a, and returns
// once g has swallowed it, with what Send will return.
func sendInFlight(t *testing.T, a testNode, g *ghost) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- a.node.Sender().Send(context.Background(), relay.Delivery{To: wire.NewConnectionIDOn(g.tag), Frame: []byte("lost")})
	}()
	select {
	case <-g.swallowed:
	case <-time.After(5 * time.Second):
		t.Fatal("the delivery never reached the other node")
	}
	return done
}

// TestInFlightWhenNodeDies plays a node that dies with a delivery in
// flight, which it never answers. The delivery ends, internal (it may have
// arrived), as soon as the node is found gone — not after the whole
// request timeout, which would hold up every frame its sender sends after
// it — whether another delivery finds it gone or the delivery itself
// checks; gone if the node had said goodbye, since a node that leaves
// closes its connections first. A node that still answers its pings is
// waited for.
func TestInFlightWhenNodeDies(t *testing.T) {
	const requestTimeout = 2 * time.Second
	start := func(t *testing.T) (testNode, *ghost) {
		backbone := clustertest.StartNATS(t)
		a := startNode(t, cluster.Options{Conn: backbone.Connect(t), RequestTimeout: requestTimeout}, gateway.Options{APIKeys: senderKeys})
		g := newGhost(t, backbone)
		waitNodes(t, 2, a)
		return a, g
	}
	// The client reads the error's message: it says what happened, not
	// that NATS is away (it is not).
	expectInternal := func(t *testing.T, done <-chan error, sent time.Time, within time.Duration, says string) {
		t.Helper()
		select {
		case err := <-done:
			werr, ok := errors.AsType[*wire.Error](err)
			if !errors.Is(err, wire.ErrInternal) || !ok || !strings.Contains(werr.Message, says) {
				t.Errorf("the delivery in flight: %v, want internal, saying %q", err, says)
			}
			t.Logf("the delivery in flight ended after %v (request timeout %v)", time.Since(sent).Round(time.Millisecond), requestTimeout)
		case <-time.After(within):
			t.Fatalf("the delivery in flight still waits after %v", within)
		}
	}
	t.Run("FoundGoneByAnother", func(t *testing.T) {
		a, g := start(t)
		sent := time.Now()
		done := sendInFlight(t, a, g)
		g.die(t)
		err := a.node.Sender().Send(context.Background(), relay.Delivery{To: wire.NewConnectionIDOn(g.tag), Frame: []byte("after")})
		if !errors.Is(err, wire.ErrGone) {
			t.Fatalf("a delivery after the node went: %v, want gone", err)
		}
		expectInternal(t, done, sent, time.Second, "went away with the message in flight")
	})
	t.Run("FoundGoneByItself", func(t *testing.T) {
		a, g := start(t)
		sent := time.Now()
		done := sendInFlight(t, a, g)
		g.die(t)
		expectInternal(t, done, sent, time.Second, "went away with the message in flight")
	})
	t.Run("SaidGoodbye", func(t *testing.T) {
		a, g := start(t)
		sent := time.Now()
		done := sendInFlight(t, a, g)
		if err := g.nc.Publish("monologue."+cluster.DefaultName+".bye", []byte(g.tag.String())); err != nil {
			t.Fatal(err)
		}
		g.die(t)
		select {
		case err := <-done:
			if !errors.Is(err, wire.ErrGone) {
				t.Errorf("the delivery in flight to a node that left: %v, want gone", err)
			}
			t.Logf("the delivery in flight ended after %v", time.Since(sent).Round(time.Millisecond))
		case <-time.After(time.Second):
			t.Fatal("the delivery in flight to a node that left still waits after 1 s")
		}
	})
	t.Run("AliveIsWaitedFor", func(t *testing.T) {
		a, g := start(t)
		sent := time.Now()
		done := sendInFlight(t, a, g)
		select {
		case err := <-done:
			t.Fatalf("the delivery to a node that answers its pings ended after %v: %v", time.Since(sent), err)
		case <-time.After(requestTimeout / 2):
		}
		expectInternal(t, done, sent, requestTimeout, "no answer within 2s")
	})
}

// TestUnheardNodeIsAsked delivers to a connection of a node that has not
// been heard of yet, as a node that has just started is until its first
// heartbeat crosses: the delivery is made (not answered gone). Having
// answered, the node is judged by its heartbeats: frozen before its first
// one, it is dead 1.5 s later, and gone at once. A connection of a node
// that no one answers for is gone.
func TestUnheardNodeIsAsked(t *testing.T) {
	backbone := clustertest.StartNATS(t)
	a := startNode(t, cluster.Options{Conn: backbone.Connect(t)}, gateway.Options{APIKeys: senderKeys})
	newcomer := backbone.Connect(t)
	tag := wire.NewNodeTag()
	got := make(chan []byte, 1)
	var frozen atomic.Bool
	if _, err := newcomer.Subscribe("monologue."+cluster.DefaultName+".n."+tag.String()+".d", func(m *nats.Msg) {
		if !frozen.Load() {
			got <- m.Data
			_ = m.Respond([]byte{0}) // delivered
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := newcomer.Flush(); err != nil {
		t.Fatal(err)
	}
	to := wire.NewConnectionIDOn(tag)
	if err := a.node.Sender().Send(context.Background(), relay.Delivery{To: to, Frame: []byte("hello")}); err != nil {
		t.Fatalf("a delivery to a node not heard of yet: %v, want it delivered", err)
	}
	if data := <-got; !strings.HasSuffix(string(data), "hello") {
		t.Fatalf("the node received %q", data)
	}

	frozen.Store(true)
	time.Sleep(2 * time.Second) // dead after 1.5 s, found at a heartbeat of a's
	sent := time.Now()
	err := a.node.Sender().Send(context.Background(), relay.Delivery{To: to, Frame: []byte("frozen")})
	if took := time.Since(sent); !errors.Is(err, wire.ErrGone) || took > 100*time.Millisecond {
		t.Fatalf("a delivery to the node 2 s after it froze: %v after %v, want gone at once", err, took)
	}

	err = a.node.Sender().Send(context.Background(), relay.Delivery{To: wire.NewConnectionIDOn(wire.NewNodeTag()), Frame: []byte("x")})
	if !errors.Is(err, wire.ErrGone) {
		t.Fatalf("a delivery to a node no one answers for: %v, want gone", err)
	}
}
