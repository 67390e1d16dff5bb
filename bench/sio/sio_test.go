package sio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSplitArray(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`[]`, nil},
		{` [ "a" ] `, []string{`"a"`}},
		{`["call","x,y]",{"a":[1,2]},[3,"]"], true ,null]`, []string{`"call"`, `"x,y]"`, `{"a":[1,2]}`, `[3,"]"]`, `true`, `null`}},
		{`["q\"u,o\\"]`, []string{`"q\"u,o\\"`}},
	}
	for _, tt := range tests {
		got, err := SplitArray([]byte(tt.in))
		if err != nil {
			t.Errorf("SplitArray(%s): %v", tt.in, err)
			continue
		}
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		if !reflect.DeepEqual(gs, tt.want) {
			t.Errorf("SplitArray(%s) = %q, want %q", tt.in, gs, tt.want)
		}
	}
	for _, bad := range []string{``, `{}`, `["a"`, `["a",]`, `[1]]`, `["unterminated]`, `[}]`} {
		if _, err := SplitArray([]byte(bad)); err == nil {
			t.Errorf("SplitArray(%s): no error", bad)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "tab\t", "ünï"} {
		got, err := Unquote(String(s))
		if err != nil || got != s {
			t.Errorf("Unquote(String(%q)) = %q, %v", s, got, err)
		}
	}
}

// fakeServer speaks just enough Engine.IO/Socket.IO to exercise the client:
// it pings first, then answers "echo" events with an ack of their arguments
// and, on "poke", emits "poked" asking for an ack and reports the answer on
// the channel acks.
func fakeServer(t *testing.T, acks chan<- string) *httptest.Server {
	up := websocket.Upgrader{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("EIO") != "4" || r.URL.Query().Get("transport") != "websocket" {
			http.Error(w, "bad query", http.StatusBadRequest)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		send := func(s string) { _ = ws.WriteMessage(websocket.TextMessage, []byte(s)) }
		send(`0{"sid":"eio","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)
		for {
			_, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			m := string(msg)
			switch {
			case m == "40":
				send("2")
			case m == "3":
				send(`40{"sid":"sock1"}`)
			case strings.HasPrefix(m, `42`) && strings.Contains(m, `["echo",`):
				id, _, data := cutAckID(msg[2:])
				args, _ := SplitArray(data)
				send("43" + strconv.FormatUint(id, 10) + string(appendArray(nil, args[1:])))
			case strings.Contains(m, `["hang-up"]`):
				return
			case strings.HasPrefix(m, `42["poke"]`):
				send(`4277["poked","a"]`)
			case strings.HasPrefix(m, "4377"):
				acks <- m[4:]
			}
		}
	}))
}

func TestConnEmitWithAckAndEvents(t *testing.T) {
	acks := make(chan string, 1)
	srv := fakeServer(t, acks)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	c, err := Dial(ctx, url, &Options{OnEvent: func(event string, args [][]byte, ack Ack) {
		if event == "poked" && ack != nil {
			_ = ack(append([]byte(nil), args[0]...), []byte(`true`))
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.SID() != "sock1" {
		t.Fatalf("SID = %q", c.SID())
	}
	for i := range 3 {
		ret, err := c.EmitWithAck(ctx, "echo", String("hello"), []byte(`{"n":[1,2]}`))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if len(ret) != 2 || string(ret[0]) != `"hello"` || string(ret[1]) != `{"n":[1,2]}` {
			t.Fatalf("call %d: ack %q", i, ret)
		}
	}
	if err := c.Emit("poke"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-acks:
		if got != `["a",true]` {
			t.Fatalf("ack to the server = %s", got)
		}
	case <-ctx.Done():
		t.Fatal("no ack reached the server")
	}
}

func TestPendingAckFailsWhenConnectionCloses(t *testing.T) {
	acks := make(chan string, 1)
	srv := fakeServer(t, acks)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	c, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.EmitWithAck(ctx, "hang-up")
	if err == nil {
		t.Fatal("no error for an ack lost with its connection")
	}
	if ctx.Err() != nil {
		t.Fatal("the pending ack waited for its context instead of failing with the connection")
	}
	<-c.Done()
	if c.Err() == nil {
		t.Fatal("Err is nil after the connection dropped")
	}
	c.Close()
	srv.Close()
}
