package awslambda_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/lambdaemu"
)

// TestThroughGateway runs the AWS code path on one machine: WebSocket
// clients on the real gateway, events through the function, frames back
// through the gateway's @connections API with the SDK client, channels in
// DynamoDB Local.
func TestThroughGateway(t *testing.T) {
	client, table, calls := newTable(t)
	// The listeners are opened first: the function and the integration
	// need the admin address before the gateway that serves it exists.
	srv := gatewaytest.NewUnstarted(t)
	logs := &strings.Builder{}
	d, err := awslambda.New(awslambda.Config{
		AWS:                localAWS(),
		Table:              table,
		DynamoDB:           client,
		PublishKey:         "publish-key",
		ManagementEndpoint: srv.AdminURL + "/latest",
		Logger:             slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(gateway.Options{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer: prometheus.NewRegistry(),
		// The gateway's events go to the function as API Gateway event
		// JSON, in process, as serve --integration lambda sends them.
		NewIntegration: func(gw *gateway.Gateway) (gateway.Integration, error) {
			return lambdaemu.New(lambdaemu.Options{
				WebSocket:          lambda.NewHandler(d),
				Replies:            gw,
				ManagementEndpoint: srv.AdminURL,
				Stage:              "latest",
				PublishKey:         "publish-key",
			})
		},
	})
	url := srv.URL + "latest"
	dial := func() (*websocket.Conn, string) {
		ws, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.Close() })
		send(t, ws, "whoami")
		return ws, receive(t, ws)
	}
	a, idA := dial()
	b, idB := dial()

	send(t, a, `{"action":"sendmessage","to":"`+idB+`","payload":{"hi":1}}`)
	if got, want := receive(t, b), `{"to":"`+idB+`","from":"`+idA+`","payload":{"hi":1}}`; got != want {
		t.Fatalf("B received %s, want %s", got, want)
	}
	send(t, a, `{"action":"sendmessage","to":"AAAAAAAAAAAAAAA=","id":3}`)
	if got, want := receive(t, a), `{"error":{"code":"gone","message":"no connection \"AAAAAAAAAAAAAAA=\""},"id":3,"to":"AAAAAAAAAAAAAAA="}`; got != want {
		t.Fatalf("A received %s, want %s", got, want)
	}
	for _, ws := range []*websocket.Conn{a, b} {
		send(t, ws, `{"action":"subscribe","channel":"news"}`)
		if got := receive(t, ws); got != `{"action":"subscribed","channel":"news"}` {
			t.Fatalf("subscribe: %s", got)
		}
	}
	send(t, a, `{"action":"publish","channel":"news","payload":"extra"}`)
	if got, want := receive(t, b), `{"channel":"news","from":"`+idA+`","payload":"extra"}`; got != want {
		t.Fatalf("B received %s, want %s", got, want)
	}

	// B closes: its $disconnect drops its subscription.
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	b.Close()
	// The gateway counts B out once its $disconnect has returned, with
	// every DynamoDB call of it made, so that none is counted below.
	waitFor(t, func() bool {
		ids, _ := allMembers(t, store, "news")
		return slices.Equal(ids, []string{idA}) && srv.Gateway.ConnectionCount() == 1
	})
	// A subscription whose connection went without a $disconnect is found
	// gone at the gateway's management API (410) and dropped by publish.
	if err := store.Subscribe(context.Background(), "news", "Z3hvc3Q9PT0="); err != nil {
		t.Fatal(err)
	}
	calls.Take()
	send(t, a, `{"action":"publish","channel":"news","payload":"after"}`)
	send(t, a, "whoami") // publish has no reply: wait for this one instead
	if got := receive(t, a); got != idA {
		t.Fatalf("A received %s, want its ID", got)
	}
	if got := calls.Take(); !mapsEqual(got, map[string]int{"Query": 1, "GetItem": 1, "DeleteItem": 1}) { // the gone member: its bucket count, its item
		t.Fatalf("DynamoDB calls of a publish with one gone member = %v", got)
	}
	if ids, _ := allMembers(t, store, "news"); !slices.Equal(ids, []string{idA}) {
		t.Fatalf("members = %v, want only A", ids)
	}
	if logs.Len() != 0 {
		t.Fatalf("function logged:\n%s", logs)
	}
}

func send(t *testing.T, ws *websocket.Conn, text string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
		t.Fatal(err)
	}
}

func receive(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
