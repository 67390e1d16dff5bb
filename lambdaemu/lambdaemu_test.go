package lambdaemu

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
	"github.com/monologue-go/monologue/wire"
)

// recordingFunction is a Lambda function that keeps the events it receives
// and answers with a fixed response.
type recordingFunction struct {
	events   [][]byte
	response string
	err      error
}

func (f *recordingFunction) Invoke(_ context.Context, payload []byte) ([]byte, error) {
	f.events = append(f.events, payload)
	return []byte(f.response), f.err
}

func TestWebSocketEvents(t *testing.T) {
	fn := &recordingFunction{response: `{"statusCode":200}`}
	clock := time.Date(2026, 11, 22, 4, 0, 0, 0, time.UTC)
	integ, err := New(Options{WebSocket: fn, Replies: relaytest.NewRecorder(), ManagementEndpoint: "http://127.0.0.1:8081", Stage: "latest",
		Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	id := relay.Identity{SourceIP: "127.0.0.1", UserAgent: "test"}
	ctx := context.Background()
	for _, ev := range []relay.Event{
		{ConnectionID: "A=", Route: wire.RouteConnect, Identity: id},
		{ConnectionID: "A=", Route: wire.RouteDefault, Body: []byte("whoami"), Identity: id},
		{ConnectionID: "A=", Route: "loopback", Body: []byte(`{"action":"loopback"}`), Identity: id},
		{ConnectionID: "A=", Route: wire.RouteDisconnect, Identity: id},
	} {
		if err := integ.Handle(ctx, ev); err != nil {
			t.Fatalf("Handle(%s): %v", ev.Route, err)
		}
	}
	want := []struct{ route, eventType, body string }{
		{"$connect", "CONNECT", ""}, {"$default", "MESSAGE", "whoami"}, {"loopback", "MESSAGE", `{"action":"loopback"}`}, {"$disconnect", "DISCONNECT", ""},
	}
	var connectedAt int64
	for i, raw := range fn.events {
		var req events.APIGatewayWebsocketProxyRequest
		if err := json.Unmarshal(raw, &req); err != nil {
			t.Fatal(err)
		}
		rc := req.RequestContext
		if rc.RouteKey != want[i].route || rc.EventType != want[i].eventType || req.Body != want[i].body {
			t.Errorf("event %d = %s %s %q, want %+v", i, rc.RouteKey, rc.EventType, req.Body, want[i])
		}
		if rc.ConnectionID != "A=" || rc.DomainName != "127.0.0.1:8081" || rc.Stage != "latest" || rc.Identity.SourceIP != "127.0.0.1" {
			t.Errorf("event %d context = %+v", i, rc)
		}
		if i == 0 {
			connectedAt = rc.ConnectedAt
		} else if rc.ConnectedAt != connectedAt {
			t.Errorf("event %d connectedAt = %d, want %d", i, rc.ConnectedAt, connectedAt)
		}
	}
	if len(integ.connected) != 0 {
		t.Errorf("connections remembered after disconnect: %v", integ.connected)
	}
}

func TestFailedInvocationAnswersInternal(t *testing.T) {
	rec := relaytest.NewRecorder("A=")
	fn := &recordingFunction{err: errors.New("function crashed")}
	integ, err := New(Options{WebSocket: fn, Replies: rec, ManagementEndpoint: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	frame, _ := wire.Parse([]byte(`{"action":"loopback","id":9}`))
	if err := integ.Handle(context.Background(), relay.Event{ConnectionID: "A=", Route: "loopback", Frame: &frame}); err == nil {
		t.Fatal("Handle returned nil for a crashed function")
	}
	got := rec.Take("A=")
	if len(got) != 1 || got[0] != `{"error":{"code":"internal","message":"Internal server error"},"id":9}` {
		t.Fatalf("client got %q", got)
	}
	if err := integ.Handle(context.Background(), relay.Event{ConnectionID: "B=", Route: wire.RouteConnect}); err == nil {
		t.Fatal("a failed $connect must refuse the connection")
	}
	if n := len(integ.connected); n != 0 {
		t.Fatalf("a refused connection is still remembered (%d entries)", n)
	}
}

func TestBroadcastStatus(t *testing.T) {
	for _, tt := range []struct {
		response string
		want     error
	}{
		{`{"statusCode":200}`, nil},
		{`{"statusCode":413,"body":"{\"message\":\"too big\"}"}`, wire.ErrPayloadTooLarge},
		{`{"statusCode":403}`, wire.ErrForbidden},
		{`{"statusCode":400}`, wire.ErrBadRequest},
	} {
		fn := &recordingFunction{response: tt.response}
		integ, _ := New(Options{WebSocket: fn, Replies: relaytest.NewRecorder(), ManagementEndpoint: "http://127.0.0.1:1", PublishKey: "k"})
		err := integ.Broadcast(context.Background(), "", "news", []byte(`{"a":1}`))
		if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
			t.Errorf("response %s: err = %v, want %v", tt.response, err, tt.want)
		}
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(fn.events[0], &req); err != nil {
			t.Fatal(err)
		}
		if req.RouteKey != "POST /channels/{channel}" || req.PathParameters["channel"] != "news" || req.Headers["x-api-key"] != "k" || req.Body != `{"a":1}` {
			t.Errorf("publish event = %+v", req)
		}
	}
}
