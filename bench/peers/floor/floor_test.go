package floor

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func dial(t *testing.T, url string) (*websocket.Conn, string) {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	send(t, ws, "whoami")
	return ws, read(t, ws)
}

func send(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, ws *websocket.Conn) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

func TestRelay(t *testing.T) {
	srv := httptest.NewServer(New())
	defer srv.Close()
	a, idA := dial(t, srv.URL)
	b, idB := dial(t, srv.URL)
	c, idC := dial(t, srv.URL)
	if len(idA) != 16 || idA == idB {
		t.Fatalf("IDs %q and %q", idA, idB)
	}
	steps := []struct {
		from *websocket.Conn
		send string
		to   *websocket.Conn
		want string
	}{
		{a, `{"to":"` + idB + `","payload":{"x":[1,2]}}`, b, `{"to":"` + idB + `","from":"` + idA + `","payload":{"x":[1,2]}}`},
		{b, `{"action":"sendmessage","to":"` + idA + `","id":3,"payload":"hi"}`, a, `{"to":"` + idA + `","from":"` + idB + `","payload":"hi"}`},
		{a, `{"to":"nobody","id":"q"}`, a, `{"error":{"code":"gone","message":"gone"},"id":"q","to":"nobody"}`},
		{b, `{"action":"subscribe","channel":"ch","id":1}`, b, `{"action":"subscribed","channel":"ch","id":1}`},
		{c, `{"action":"subscribe","channel":"ch"}`, c, `{"action":"subscribed","channel":"ch"}`},
		{c, `{"action":"publish","channel":"ch","payload":"p"}`, b, `{"channel":"ch","from":"` + idC + `","payload":"p"}`},
		{a, `{"action":"send","message":7}`, a, `{"message":7}`},
		{a, `{"action":"nope"}`, a, `{"error":{"code":"unknown_action","message":"unknown_action"}}`},
		{a, `not json`, a, `{"error":{"code":"bad_request","message":"bad_request"}}`},
	}
	for i, s := range steps {
		send(t, s.from, s.send)
		got := read(t, s.to)
		if got != s.want {
			t.Errorf("step %d: got %s\nwant %s", i, got, s.want)
		}
	}
}
