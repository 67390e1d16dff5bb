package monologue_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/channels"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// doorman is the relay behind a $connect that refuses every handshake with
// 403 once closed is set, as a revoked API key would be.
type doorman struct {
	*relay.Relay
	closed   atomic.Bool
	refusals atomic.Int32
}

func (d *doorman) Handle(ctx context.Context, ev relay.Event) error {
	if ev.Route == wire.RouteConnect && d.closed.Load() {
		d.refusals.Add(1)
		return wire.NewError(wire.CodeForbidden, "key revoked")
	}
	return d.Relay.Handle(ctx, ev)
}

// TestReconnectRefusedForGood: a 403 when reconnecting is final: the client
// stops at once instead of retrying forever, tells OnError, and says why in
// Done, Err and every later operation.
func TestReconnectRefusedForGood(t *testing.T) {
	door := &doorman{}
	gw := startGateway(t, gateway.Options{NewIntegration: func(g *gateway.Gateway) (gateway.Integration, error) {
		opts := g.RelayOptions()
		opts.Channels = channels.NewMemory(0)
		door.Relay = relay.New(opts)
		return door, nil
	}})
	var mu sync.Mutex
	var reported []error
	client := gw.dial(t, monologue.Options{
		Reconnect: true,
		OnError: func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		},
	})
	door.closed.Store(true)
	gw.deleteConnection(t, client.ID())

	select {
	case <-client.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client still retries after a 403")
	}
	err := client.Err()
	if !errors.Is(err, monologue.ErrForbidden) || !errors.Is(err, monologue.ErrDisconnected) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("Err() = %v, want a refusal matching ErrForbidden and ErrDisconnected", err)
	}
	if err := client.Call(context.Background(), "AAAAAAAAAAAAAAA=", "m", nil, nil); !errors.Is(err, monologue.ErrForbidden) {
		t.Errorf("Call after the refusal: %v, want ErrForbidden", err)
	}
	eventually(t, "OnError", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(reported) == 1 && errors.Is(reported[0], monologue.ErrForbidden)
	})
	time.Sleep(300 * time.Millisecond) // time for more attempts, if it made any
	if n := door.refusals.Load(); n != 1 {
		t.Errorf("%d handshakes refused, want 1: the client retried", n)
	}
}

// TestDoneWithoutReconnect: without Reconnect, Done closes when the
// connection drops; Close closes it too.
func TestDoneWithoutReconnect(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	dropped := gw.dial(t, monologue.Options{})
	closed := gw.dial(t, monologue.Options{})
	if dropped.Err() != nil {
		t.Fatalf("Err() of a live client: %v", dropped.Err())
	}
	gw.deleteConnection(t, dropped.ID())
	receive(t, dropped.Done(), "Done after the connection dropped")
	if !errors.Is(dropped.Err(), monologue.ErrDisconnected) {
		t.Errorf("Err() = %v, want ErrDisconnected", dropped.Err())
	}
	closed.Close()
	receive(t, closed.Done(), "Done after Close")
	if !errors.Is(closed.Err(), monologue.ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", closed.Err())
	}
}

// TestFrameFromManagementAPI: a frame that POST @connections sends as it
// is reaches OnMessage as a message from the gateway: no sender, no
// channel, the frame as the payload (as a JSON string when it is not JSON).
func TestFrameFromManagementAPI(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	messages := make(chan monologue.Message, 10)
	client := gw.dial(t, monologue.Options{OnMessage: func(m monologue.Message) { messages <- m }})
	for _, tc := range []struct{ frame, payload string }{
		{"hello", `"hello"`},
		{`{"hi":1}`, `{"hi":1}`},
		{`[1,2]`, `[1,2]`},
		{`{"message":"not a ping"}`, `{"message":"not a ping"}`},
		{`not "json`, `"not \"json"`},
	} {
		resp, err := http.Post(gw.admin+"/@connections/"+url.PathEscape(client.ID()), "text/plain", strings.NewReader(tc.frame))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST @connections: %s", resp.Status)
		}
		m := receive(t, messages, "the posted frame")
		if m.From != "" || m.Channel != "" || string(m.Payload) != tc.payload {
			t.Errorf("frame %q arrived as %+v (payload %s), want payload %s from the gateway", tc.frame, m, m.Payload, tc.payload)
		}
	}
}
