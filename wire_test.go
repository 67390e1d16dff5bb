package monologue_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/monologue-go/monologue"
	"github.com/monologue-go/monologue/gateway"
)

// rawPeer is a peer that speaks the wire protocol by hand, as the original
// JavaScript client does.
type rawPeer struct {
	tb   testing.TB
	conn interface {
		Read([]byte) (int, error)
		Write([]byte) (int, error)
		Close() error
		SetDeadline(time.Time) error
	}
	id string
}

func dialRaw(tb testing.TB, gw *testGateway) *rawPeer {
	tb.Helper()
	dialer := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"X-Api-Key": {testKey}})}
	conn, _, _, err := dialer.Dial(context.Background(), gw.endpoint)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	p := &rawPeer{tb: tb, conn: conn}
	p.send("whoami")
	p.id = p.read()
	return p
}

func (p *rawPeer) send(frame string) {
	p.tb.Helper()
	if err := wsutil.WriteClientText(p.conn, []byte(frame)); err != nil {
		p.tb.Fatal(err)
	}
}

func (p *rawPeer) read() string {
	p.tb.Helper()
	data, err := wsutil.ReadServerText(p.conn)
	if err != nil {
		p.tb.Fatal(err)
	}
	return string(data)
}

func TestWireCompatibility(t *testing.T) {
	gw := startGateway(t, gateway.Options{})
	client := gw.dial(t, monologue.Options{})
	must(t, client.Handle("sum", func(_ context.Context, req *monologue.Request) (any, error) {
		var a, b float64
		if err := req.Bind(&a, &b); err != nil {
			return nil, err
		}
		if req.From == "" {
			t.Error("request without From")
		}
		return a + b, nil
	}))
	peer := dialRaw(t, gw)

	// A request with a string token, as the original client sends, through
	// the $default route: the answer echoes the token as it was.
	peer.send(`{"to":"` + client.ID() + `","payload":{"type":"REQ","data":{"token":"t-1","name":"sum","args":[2,3]}}}`)
	want := `{"to":"` + peer.id + `","from":"` + client.ID() + `","payload":{"type":"ACK","data":{"token":"t-1","ret":5}}}`
	if got := peer.read(); got != want {
		t.Errorf("ACK:\n got %s\nwant %s", got, want)
	}
	peer.send(`{"action":"sendmessage","to":"` + client.ID() + `","payload":{"type":"REQ","data":{"token":7,"name":"nope","args":[]}}}`)
	want = `{"to":"` + peer.id + `","from":"` + client.ID() +
		`","payload":{"type":"ERR","data":{"token":7,"error":{"code":"not_found","message":"no handler for method \"nope\""}}}}`
	if got := peer.read(); got != want {
		t.Errorf("ERR:\n got %s\nwant %s", got, want)
	}

	// The client's own requests, as the raw peer sees them.
	result := make(chan error, 1)
	var ret json.RawMessage
	go func() { result <- client.Call(context.Background(), peer.id, "greet", []any{"a", 1}, &ret) }()
	var request struct {
		From    string
		Payload struct {
			Type string
			Data struct {
				Token json.RawMessage
				Name  string
				Args  []any
			}
		}
	}
	if err := json.Unmarshal([]byte(peer.read()), &request); err != nil {
		t.Fatal(err)
	}
	if request.From != client.ID() || request.Payload.Type != "REQ" || request.Payload.Data.Name != "greet" ||
		len(request.Payload.Data.Args) != 2 || request.Payload.Data.Args[0] != "a" || request.Payload.Data.Args[1] != 1.0 {
		t.Fatalf("request %+v", request)
	}
	// A reply without "ret" (undefined in JavaScript) is null.
	peer.send(`{"to":"` + client.ID() + `","payload":{"type":"ACK","data":{"token":` + string(request.Payload.Data.Token) + `}}}`)
	if err := receive(t, result, "the call"); err != nil || string(ret) != "null" {
		t.Errorf("call answered without ret: %s, %v", ret, err)
	}
}
