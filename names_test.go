package monologue_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

func dialNamed(t *testing.T, gw *testGateway, opts monologue.Options) *monologue.Client {
	t.Helper()
	c, err := monologue.Dial(context.Background(), gw.options(opts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestWorkerPoolBehindAName: three workers claim one name; a caller that
// knows nothing but the name calls it, and the calls are answered, spread
// over the workers.
func TestWorkerPoolBehindAName(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	ctx := context.Background()
	var mu sync.Mutex
	served := map[string]int{}
	for range 3 {
		w := dialNamed(t, gw, monologue.Options{})
		id := w.ID()
		must(t, w.Handle("work", func(_ context.Context, req *monologue.Request) (any, error) {
			var n int
			if err := req.Bind(&n); err != nil {
				return nil, err
			}
			mu.Lock()
			served[id]++
			mu.Unlock()
			return n * 2, nil
		}))
		must(t, w.Claim(ctx, "billing"))
	}
	caller := dialNamed(t, gw, monologue.Options{})
	for i := range 30 {
		var got int
		must(t, caller.Call(ctx, "@billing", "work", []any{i}, &got))
		if got != 2*i {
			t.Fatalf("call %d: %d", i, got)
		}
	}
	mu.Lock()
	spread := len(served)
	mu.Unlock()
	if spread < 2 {
		t.Fatalf("30 calls served by %d workers: not spread over the pool", spread)
	}
	p, err := caller.Holders(ctx, "billing")
	must(t, err)
	if p.Count != 3 || len(p.Members) != 3 {
		t.Fatalf("holders = %+v, want 3", p)
	}
	if err := caller.Call(ctx, "@nobody", "work", []any{1}, nil); !errors.Is(err, monologue.ErrGone) {
		t.Fatalf("call to an unclaimed name: %v, want gone", err)
	}
}

// TestNamedPeerSurvivesReconnect: a peer known only by its name is called
// by name before and after the gateway drops its connection.
func TestNamedPeerSurvivesReconnect(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	ctx := context.Background()
	reconnected := make(chan string, 1)
	peer := dialNamed(t, gw, monologue.Options{Name: "machine-1", NameExclusive: true, Reconnect: true,
		OnReconnect: func(id string) { reconnected <- id }})
	must(t, peer.Handle("hello", func(context.Context, *monologue.Request) (any, error) { return "hi", nil }))
	caller := dialNamed(t, gw, monologue.Options{})
	var got string
	must(t, caller.Call(ctx, "@machine-1", "hello", nil, &got))
	old := peer.ID()
	gw.deleteConnection(t, old)
	select {
	case id := <-reconnected:
		if id == old {
			t.Fatalf("reconnected with the old ID %s", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnection within 10 s")
	}
	got = ""
	must(t, caller.Call(ctx, "@machine-1", "hello", nil, &got))
	if got != "hi" {
		t.Fatalf("after the reconnection: %q", got)
	}
	p, err := caller.Holders(ctx, "machine-1")
	must(t, err)
	if p.Count != 1 || p.Members[0] != peer.ID() {
		t.Fatalf("holders after the reconnection = %+v, want only %s", p, peer.ID())
	}
}

// TestTakeoverAndPresence: an exclusive claim takes a name (the old holder
// hears of it), messages to the name say so in Via, and a presence
// subscription sees members join and leave.
func TestTakeoverAndPresence(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	ctx := context.Background()
	lost := make(chan string, 1)
	old := dialNamed(t, gw, monologue.Options{OnNameLost: func(name string) { lost <- name }})
	must(t, old.Claim(ctx, "leader"))
	messages := make(chan monologue.Message, 1)
	newer := dialNamed(t, gw, monologue.Options{OnMessage: func(m monologue.Message) { messages <- m }})
	must(t, newer.Claim(ctx, "leader", monologue.Exclusive()))
	select {
	case name := <-lost:
		if name != "leader" {
			t.Fatalf("lost %q", name)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the old holder was not told it lost the name")
	}
	sender := dialNamed(t, gw, monologue.Options{})
	must(t, sender.Send(ctx, "@leader", "x"))
	select {
	case m := <-messages:
		if m.Via != "@leader" || m.From != sender.ID() {
			t.Fatalf("message %+v, want via @leader from %s", m, sender.ID())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message to the name")
	}

	events := make(chan monologue.PresenceEvent, 4)
	watcher := dialNamed(t, gw, monologue.Options{OnPresence: func(e monologue.PresenceEvent) { events <- e }})
	must(t, watcher.Subscribe(ctx, "room", monologue.WithPresence()))
	member := dialNamed(t, gw, monologue.Options{})
	must(t, member.Subscribe(ctx, "room"))
	p, err := watcher.Presence(ctx, "room")
	must(t, err)
	want := []string{watcher.ID(), member.ID()}
	slices.Sort(want)
	slices.Sort(p.Members)
	if p.Count != 2 || !slices.Equal(p.Members, want) {
		t.Fatalf("presence %+v, want %v", p, want)
	}
	must(t, member.Close())
	for _, joined := range []bool{true, false} {
		select {
		case e := <-events:
			if e.Channel != "room" || e.Joined != joined || e.ID != member.ID() {
				t.Fatalf("event %+v, want joined=%v of %s", e, joined, member.ID())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no presence event (joined=%v)", joined)
		}
	}
}

// TestLargeCallToAName: a call too large for one frame, to a name with
// several holders, goes in parts to the one holder that accepted it.
func TestLargeCallToAName(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	ctx := context.Background()
	for range 3 {
		w := dialNamed(t, gw, monologue.Options{})
		must(t, w.Handle("size", func(_ context.Context, req *monologue.Request) (any, error) {
			var s string
			if err := req.Bind(&s); err != nil {
				return nil, err
			}
			return len(s), nil
		}))
		must(t, w.Claim(ctx, "pool"))
	}
	caller := dialNamed(t, gw, monologue.Options{})
	big := strings.Repeat("x", 600<<10)
	for range 3 {
		var n int
		must(t, caller.Call(ctx, "@pool", "size", []any{big}, &n))
		if n != len(big) {
			t.Fatalf("the holder received %d bytes, want %d", n, len(big))
		}
	}
}
