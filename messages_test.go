package monologue_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// inbox collects the messages a client receives.
func inbox() (chan monologue.Message, func(monologue.Message)) {
	ch := make(chan monologue.Message, 100)
	return ch, func(m monologue.Message) { ch <- m }
}

func TestSendRawMessage(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	messages, onMessage := inbox()
	receiver := gw.dial(t, monologue.Options{OnMessage: onMessage})
	sender := gw.dial(t, monologue.Options{})
	ctx := context.Background()

	raw := json.RawMessage(`{ "b" : 1,   "a":[true , null], "s":"\u00e9" }`)
	must(t, sender.Send(ctx, receiver.ID(), raw))
	m := receive(t, messages, "the raw message")
	if string(m.Payload) != string(raw) || m.From != sender.ID() || m.Channel != "" {
		t.Errorf("got %+v (payload %s), want payload %s from %s", m, m.Payload, raw, sender.ID())
	}

	must(t, sender.Send(ctx, receiver.ID(), map[string]int{"n": 7}))
	var decoded struct{ N int }
	if m := receive(t, messages, "the encoded message"); m.Bind(&decoded) != nil || decoded.N != 7 {
		t.Errorf("got %s", m.Payload)
	}

	must(t, sender.Send(ctx, receiver.ID(), nil))
	if m := receive(t, messages, "the message without payload"); m.Payload != nil {
		t.Errorf("got payload %s, want none", m.Payload)
	}

	// RPC-looking payloads that are not RPC are messages too.
	must(t, sender.Send(ctx, receiver.ID(), json.RawMessage(`{"type":"NOTE","data":{}}`)))
	if m := receive(t, messages, "the non-RPC message"); string(m.Payload) != `{"type":"NOTE","data":{}}` {
		t.Errorf("got %s", m.Payload)
	}

	if err := sender.Send(ctx, receiver.ID(), json.RawMessage(`{bad`)); err == nil {
		t.Error("invalid json.RawMessage accepted")
	}
}

func TestSubscribePublish(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	messages, onMessage := inbox()
	subscriber := gw.dial(t, monologue.Options{OnMessage: onMessage})
	publisher := gw.dial(t, monologue.Options{})
	ctx := context.Background()

	must(t, subscriber.Subscribe(ctx, "news"))
	must(t, publisher.Publish(ctx, "news", "hello"))
	m := receive(t, messages, "the channel message")
	if m.Channel != "news" || m.From != publisher.ID() || string(m.Payload) != `"hello"` {
		t.Errorf("got %+v, payload %s", m, m.Payload)
	}

	must(t, subscriber.Unsubscribe(ctx, "news"))
	must(t, publisher.Publish(ctx, "news", "unheard"))
	must(t, publisher.Send(ctx, subscriber.ID(), "marker"))
	if m := receive(t, messages, "the marker"); string(m.Payload) != `"marker"` {
		t.Errorf("after unsubscribing, got %+v, payload %s", m, m.Payload)
	}

	for _, bad := range []string{"", strings.Repeat("x", 257)} {
		if err := subscriber.Subscribe(ctx, bad); err == nil {
			t.Errorf("Subscribe(%.10q…) succeeded", bad)
		}
		if err := publisher.Publish(ctx, bad, 1); err == nil {
			t.Errorf("Publish(%.10q…) succeeded", bad)
		}
	}
}

func TestMessageOverflow(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	release := make(chan struct{})
	var received atomic.Int64
	receiver := gw.dial(t, monologue.Options{MessageBuffer: 2, OnMessage: func(monologue.Message) {
		<-release
		received.Add(1)
	}})
	sender := gw.dial(t, monologue.Options{})
	must(t, receiver.Handle("ping", func(context.Context, *monologue.Request) (any, error) { return "pong", nil }))
	for i := range 10 {
		must(t, sender.Send(context.Background(), receiver.ID(), i))
	}
	// Calls still work while OnMessage is stuck: the reader never blocks.
	var s string
	must(t, sender.Call(context.Background(), receiver.ID(), "ping", nil, &s))
	eventually(t, "drops to be counted", func() bool { return receiver.DroppedMessages() >= 7 })
	close(release)
	eventually(t, "the queued messages", func() bool { return received.Load()+int64(receiver.DroppedMessages()) == 10 })
}

func TestClose(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	server := gw.dial(t, monologue.Options{})
	client := gw.dial(t, monologue.Options{})
	started := make(chan struct{}, 100)
	must(t, server.Handle("block", func(ctx context.Context, _ *monologue.Request) (any, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}))

	const calls = 20
	errs := make(chan error, calls)
	for range calls {
		go func() { errs <- client.Call(context.Background(), server.ID(), "block", nil, nil) }()
	}
	for range calls {
		receive(t, started, "the calls to start")
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { _ = client.Close() })
	}
	wg.Wait()
	for range calls {
		if err := receive(t, errs, "a call to fail"); !errors.Is(err, monologue.ErrClosed) {
			t.Errorf("call during Close: %v, want ErrClosed", err)
		}
	}
	if err := client.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	for name, err := range map[string]error{
		"Call":      client.Call(ctx, server.ID(), "block", nil, nil),
		"Send":      client.Send(ctx, server.ID(), 1),
		"Publish":   client.Publish(ctx, "c", 1),
		"Subscribe": client.Subscribe(ctx, "c"),
	} {
		if !errors.Is(err, monologue.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	// Closing the server cancels its handlers' context.
	must(t, server.Close())
}

func TestForbidden(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	for _, key := range []string{"wrong", ""} {
		_, err := monologue.Dial(context.Background(), &monologue.Options{
			Endpoint: gw.endpoint, APIKey: key, Logger: quiet(),
		})
		if key == "" {
			// An empty key is filled from the environment: make sure there is none.
			t.Setenv(monologue.EnvAPIKey, "")
			t.Chdir(t.TempDir())
			t.Setenv("HOME", t.TempDir())
			_, err = monologue.Dial(context.Background(), &monologue.Options{Endpoint: gw.endpoint, Logger: quiet()})
		}
		if !errors.Is(err, monologue.ErrForbidden) || !strings.Contains(err.Error(), "403") {
			t.Errorf("key %q: got %v, want ErrForbidden", key, err)
		}
	}
}

func TestDialFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := monologue.Dial(ctx, &monologue.Options{Endpoint: "ws://127.0.0.1:1/", APIKey: "k", Logger: quiet()})
	if err == nil || !strings.Contains(err.Error(), "dial ws://127.0.0.1:1/") {
		t.Errorf("unreachable endpoint: %v", err)
	}
}

func TestDisconnectWithoutReconnect(t *testing.T) {
	gw := startGateway(t, gateway.Options{MaxConnectionAge: 500 * time.Millisecond})
	client := gw.dial(t, monologue.Options{})
	server := gw.dial(t, monologue.Options{})
	started := make(chan struct{})
	must(t, server.Handle("block", func(ctx context.Context, _ *monologue.Request) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, nil
	}))
	errs := make(chan error, 1)
	go func() { errs <- client.Call(context.Background(), server.ID(), "block", nil, nil) }()
	receive(t, started, "the call to start")
	// The client reaches its maximum age first: the gateway closes it with 1001.
	err := receive(t, errs, "the call to fail")
	if !errors.Is(err, monologue.ErrDisconnected) || !strings.Contains(err.Error(), "1001") {
		t.Fatalf("call in flight: %v, want ErrDisconnected mentioning 1001", err)
	}
	if err := client.Send(context.Background(), server.ID(), 1); !errors.Is(err, monologue.ErrDisconnected) {
		t.Errorf("Send after the drop: %v, want ErrDisconnected", err)
	}
}

func TestReconnect(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	reconnected := make(chan string, 4)
	messages, onMessage := inbox()
	client := gw.dial(t, monologue.Options{
		Reconnect:   true,
		OnReconnect: func(id string) { reconnected <- id },
		OnMessage:   onMessage,
	})
	peer := gw.dial(t, monologue.Options{})
	ctx := context.Background()
	must(t, client.Handle("whoami", func(_ context.Context, req *monologue.Request) (any, error) {
		return "still here", nil
	}))
	must(t, client.Subscribe(ctx, "room"))
	must(t, client.Subscribe(ctx, "hall"))
	must(t, client.Unsubscribe(ctx, "hall"))

	started := make(chan struct{})
	must(t, peer.Handle("block", func(ctx context.Context, _ *monologue.Request) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, nil
	}))
	errs := make(chan error, 1)
	go func() { errs <- client.Call(ctx, peer.ID(), "block", nil, nil) }()
	receive(t, started, "the call to start")

	oldID := client.ID()
	gw.deleteConnection(t, oldID)
	if err := receive(t, errs, "the call in flight to fail"); !errors.Is(err, monologue.ErrDisconnected) {
		t.Errorf("call in flight: %v, want ErrDisconnected", err)
	}
	newID := receive(t, reconnected, "OnReconnect")
	if newID == oldID || newID != client.ID() {
		t.Fatalf("OnReconnect(%q), ID() %q, old ID %q", newID, client.ID(), oldID)
	}
	var s string
	if err := peer.Call(ctx, newID, "whoami", nil, &s); err != nil || s != "still here" {
		t.Errorf("handler after reconnecting: %q, %v", s, err)
	}
	must(t, peer.Publish(ctx, "hall", "not subscribed"))
	must(t, peer.Publish(ctx, "room", "subscribed again"))
	m := receive(t, messages, "the channel message")
	if m.Channel != "room" || string(m.Payload) != `"subscribed again"` {
		t.Errorf("got %+v, payload %s", m, m.Payload)
	}
	if err := peer.Call(ctx, oldID, "whoami", nil, nil); !errors.Is(err, monologue.ErrGone) {
		t.Errorf("old ID: %v, want ErrGone", err)
	}

	// The gateway shutting down is a drop like any other; Close stops the
	// reconnection attempts.
	gw.deleteConnection(t, newID)
	receive(t, reconnected, "the second reconnection")
	must(t, client.Close())
}

func TestReconnectStopsOnClose(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	client := gw.dial(t, monologue.Options{Reconnect: true})
	gw.stop() // the gateway goes away for good: every reconnection fails
	eventually(t, "the drop", func() bool {
		return errors.Is(client.Send(context.Background(), client.ID(), 1), monologue.ErrDisconnected)
	})
	start := time.Now()
	must(t, client.Close()) // while reconnecting: must not hang or leak
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("Close took %v", elapsed)
	}
}

func TestOnErrorAndPing(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	var mu sync.Mutex
	var reported []error
	client := gw.dial(t, monologue.Options{OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	ctx := context.Background()
	must(t, client.Send(ctx, "AAAAAAAAAAAAAAA=", "hello?"))
	must(t, client.Ping(ctx))
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 1 || !errors.Is(reported[0], monologue.ErrGone) {
		t.Fatalf("reported %v, want one error matching ErrGone", reported)
	}
}

func TestKeepAlive(t *testing.T) {
	gw := startGateway(t, gateway.Options{IdleTimeout: 150 * time.Millisecond})
	idle := gw.dial(t, monologue.Options{KeepAlive: 30 * time.Millisecond})
	peer := gw.dial(t, monologue.Options{KeepAlive: 30 * time.Millisecond})
	must(t, idle.Handle("ok", func(context.Context, *monologue.Request) (any, error) { return true, nil }))
	time.Sleep(400 * time.Millisecond) // longer than the idle timeout: the pings must keep both alive
	var ok bool
	if err := peer.Call(context.Background(), idle.ID(), "ok", nil, &ok); err != nil || !ok {
		t.Fatalf("after idling: %v, %v", ok, err)
	}
}
