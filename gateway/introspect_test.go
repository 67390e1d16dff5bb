package gateway_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

// apiConnection is a connection as the introspection API lists it.
type apiConnection struct {
	ID           string    `json:"id"`
	Node         string    `json:"node"`
	Tenant       string    `json:"tenant"`
	Names        []string  `json:"names"`
	Channels     int       `json:"channels"`
	SourceIP     string    `json:"sourceIp"`
	UserAgent    string    `json:"userAgent"`
	ConnectedAt  time.Time `json:"connectedAt"`
	LastActiveAt time.Time `json:"lastActiveAt"`
	MessagesIn   uint64    `json:"messagesIn"`
	BytesIn      uint64    `json:"bytesIn"`
	MessagesOut  uint64    `json:"messagesOut"`
	BytesOut     uint64    `json:"bytesOut"`
	QueuedFrames int       `json:"queuedFrames"`
	QueuedBytes  int       `json:"queuedBytes"`
	ChannelList  []string  `json:"channelList"`
}

type apiList[T any] struct {
	Items   []T    `json:"items"`
	Total   *int   `json:"total"`
	Next    string `json:"next"`
	Missing []struct {
		Node  string `json:"node"`
		Error string `json:"error"`
	} `json:"missing"`
}

type apiChannel struct {
	Tenant  string         `json:"tenant"`
	Name    string         `json:"name"`
	Members int            `json:"members"`
	Nodes   map[string]int `json:"nodes"`
}

type apiNode struct {
	Node          string  `json:"node"`
	Self          bool    `json:"self"`
	Address       string  `json:"address"`
	UptimeSeconds float64 `json:"uptimeSeconds"`
	Connections   int     `json:"connections"`
	Totals        struct {
		Opened     uint64            `json:"opened"`
		MessagesIn map[string]uint64 `json:"messagesIn"`
		Errors     map[string]uint64 `json:"errors"`
	} `json:"totals"`
	Rates struct {
		WindowSeconds float64            `json:"windowSeconds"`
		MessagesIn    float64            `json:"messagesIn"`
		Routes        map[string]float64 `json:"routes"`
	} `json:"rates"`
}

// getJSON gets an API path of the admin listener and decodes the answer,
// failing unless the status is want.
func getJSON[T any](t *testing.T, base, path string, want int, v *T) {
	t.Helper()
	if v != nil {
		*v = *new(T) // fields the answer leaves out are zero
	}
	status, _, body := httpDo(t, "GET", base+path, nil, "")
	if status != want {
		t.Fatalf("GET %s: %d %s, want %d", path, status, body, want)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(body), v); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
}

func ids(items []apiConnection) []string {
	var out []string
	for _, c := range items {
		out = append(out, c.ID)
	}
	return out
}

// TestIntrospectionConnections: the list shows each connection with its
// tenant, channels, identity and traffic; it sorts, filters and pages.
func TestIntrospectionConnections(t *testing.T) {
	s := start(t, gateway.Options{Address: "ws://example.test/"})
	var clients []*client
	var idList []string
	for i := range 3 {
		c := s.dialURL(t, s.url, http.Header{"X-Api-Key": {testKey}, "User-Agent": {fmt.Sprintf("agent-%d", i)}})
		clients = append(clients, c)
		idList = append(idList, c.whoami())
	}
	// Client 0 subscribes to two channels, client 1 to one; client 2 sends
	// three loopbacks.
	for _, ch := range []string{"news", "sport"} {
		clients[0].send(`{"action":"subscribe","channel":"` + ch + `"}`)
		clients[0].read()
	}
	clients[1].send(`{"action":"subscribe","channel":"news"}`)
	clients[1].read()
	for range 3 {
		clients[2].send(`{"action":"loopback","payload":"abcdefghij"}`)
		clients[2].read()
	}

	var list apiList[apiConnection]
	getJSON(t, s.admin, "/api/connections", http.StatusOK, &list)
	if len(list.Items) != 3 || list.Total == nil || *list.Total != 3 || list.Next != "" {
		t.Fatalf("list: %d items, total %v, next %q", len(list.Items), list.Total, list.Next)
	}
	byID := map[string]apiConnection{}
	for _, c := range list.Items {
		byID[c.ID] = c
	}
	for i, id := range idList {
		c, ok := byID[id]
		if !ok {
			t.Fatalf("connection %d (%s) not listed", i, id)
		}
		if c.UserAgent != fmt.Sprintf("agent-%d", i) || c.SourceIP != "127.0.0.1" || c.Tenant != "default" || c.Node != "" {
			t.Errorf("connection %d: %+v", i, c)
		}
		if time.Since(c.ConnectedAt) > time.Minute || c.LastActiveAt.Before(c.ConnectedAt) {
			t.Errorf("connection %d: connectedAt %v lastActiveAt %v", i, c.ConnectedAt, c.LastActiveAt)
		}
	}
	if c := byID[idList[0]]; c.Channels != 2 || c.MessagesIn != 3 || c.MessagesOut != 3 {
		t.Errorf("client 0 (whoami, two subscriptions): %+v", c)
	}
	loop := `{"action":"loopback","payload":"abcdefghij"}`
	if c := byID[idList[2]]; c.MessagesIn != 4 || c.BytesIn != uint64(len("whoami")+3*len(loop)) || c.MessagesOut != 4 || c.Channels != 0 {
		t.Errorf("client 2 (whoami, three loopbacks): %+v", c)
	}
	if !slices.Equal(ids(list.Items), []string{idList[2], idList[1], idList[0]}) {
		t.Errorf("default order (newest first): %v", ids(list.Items))
	}

	getJSON(t, s.admin, "/api/connections?sort=-messagesIn", http.StatusOK, &list)
	if ids(list.Items)[0] != idList[2] {
		t.Errorf("sort=-messagesIn: %v", ids(list.Items))
	}
	getJSON(t, s.admin, "/api/connections?q=AGENT-1", http.StatusOK, &list)
	if !slices.Equal(ids(list.Items), []string{idList[1]}) || *list.Total != 1 {
		t.Errorf("q=AGENT-1: %v", ids(list.Items))
	}
	getJSON(t, s.admin, "/api/connections?channel=news&sort=connectedAt", http.StatusOK, &list)
	if !slices.Equal(ids(list.Items), idList[:2]) {
		t.Errorf("channel=news: %v", ids(list.Items))
	}
	getJSON(t, s.admin, "/api/connections?tenant=key-9", http.StatusOK, &list)
	if len(list.Items) != 0 {
		t.Errorf("tenant=key-9: %v", ids(list.Items))
	}

	// Paging: one at a time by cursor, then by offset, in either order.
	for _, sort := range []string{"connectedAt", "-connectedAt", "id", "-messagesIn"} {
		var seen []string
		cursor := ""
		for range 5 {
			getJSON(t, s.admin, "/api/connections?limit=1&sort="+sort+"&cursor="+cursor, http.StatusOK, &list)
			seen = append(seen, ids(list.Items)...)
			if cursor = list.Next; cursor == "" {
				break
			}
		}
		if len(seen) != 3 || len(slices.Compact(slices.Sorted(slices.Values(seen)))) != 3 {
			t.Errorf("sort %s, by cursor: %v", sort, seen)
		}
		var byOffset []string
		for offset := range 3 {
			getJSON(t, s.admin, fmt.Sprintf("/api/connections?limit=1&offset=%d&sort=%s", offset, sort), http.StatusOK, &list)
			byOffset = append(byOffset, ids(list.Items)...)
		}
		if !slices.Equal(seen, byOffset) {
			t.Errorf("sort %s: by cursor %v, by offset %v", sort, seen, byOffset)
		}
	}

	for _, bad := range []string{"limit=0", "limit=1001", "limit=x", "offset=-1", "offset=950&limit=100", "sort=bogus", "cursor=%%%", "cursor=e30", "q=" + strings.Repeat("x", 257)} {
		status, _, body := httpDo(t, "GET", s.admin+"/api/connections?"+bad, nil, "")
		if status != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", bad, status, body)
		}
	}
	getJSON(t, s.admin, "/api/connections?limit=1", http.StatusOK, &list)
	if status, _, _ := httpDo(t, "GET", s.admin+"/api/connections?sort=id&cursor="+list.Next, nil, ""); status != http.StatusBadRequest {
		t.Errorf("a cursor of another sort: %d, want 400", status)
	}

	// One connection in detail.
	var detail apiConnection
	getJSON(t, s.admin, "/api/connections/"+url.PathEscape(idList[0]), http.StatusOK, &detail)
	if !slices.Equal(detail.ChannelList, []string{"news", "sport"}) || detail.UserAgent != "agent-0" {
		t.Errorf("detail: %+v", detail)
	}
	getJSON[any](t, s.admin, "/api/connections/"+url.PathEscape("AtuLLemUPHcCItg="), http.StatusGone, nil)
}

// TestIntrospectionActions: a frame sent, a channel published and a
// connection closed through the API reach the clients.
func TestIntrospectionActions(t *testing.T) {
	s := start(t, gateway.Options{})
	a, b := s.dial(t), s.dial(t)
	idA := a.whoami()
	b.whoami()
	for _, c := range []*client{a, b} {
		c.send(`{"action":"subscribe","channel":"news"}`)
		c.read()
	}

	status, _, body := httpDo(t, "POST", s.admin+"/api/connections/"+url.PathEscape(idA), nil, "raw text")
	if status != http.StatusOK {
		t.Fatalf("send: %d %s", status, body)
	}
	if got := a.read(); got != "raw text" {
		t.Fatalf("sent frame: %q", got)
	}

	status, _, body = httpDo(t, "POST", s.admin+"/api/channels/default/news", nil, `{"hello":"page"}`)
	if status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", status, body)
	}
	for _, c := range []*client{a, b} {
		if got := c.read(); got != `{"channel":"news","payload":{"hello":"page"}}` {
			t.Fatalf("published: %q", got)
		}
	}
	if status, _, _ := httpDo(t, "POST", s.admin+"/api/channels/key-7/news", nil, "x"); status != http.StatusNotFound {
		t.Errorf("publish to an unknown tenant: %d, want 404", status)
	}
	if status, _, _ := httpDo(t, "POST", s.admin+"/api/connections/nobody", nil, "x"); status != http.StatusGone {
		t.Errorf("send to nobody: %d, want 410", status)
	}

	status, _, body = httpDo(t, "DELETE", s.admin+"/api/connections/"+url.PathEscape(idA), nil, "")
	if status != http.StatusNoContent {
		t.Fatalf("close: %d %s", status, body)
	}
	if code := a.closeStatus(5 * time.Second); code != websocket.CloseNormalClosure {
		t.Fatalf("closed with %d, want 1000", code)
	}
	eventually(t, 5*time.Second, "the closed connection to leave the list", func() bool {
		var list apiList[apiConnection]
		getJSON(t, s.admin, "/api/connections", http.StatusOK, &list)
		return len(list.Items) == 1
	})
}

// TestIntrospectionChannels: channels are listed per tenant, by label,
// with their member counts.
func TestIntrospectionChannels(t *testing.T) {
	s := start(t, gateway.Options{APIKeys: []string{"key-one", "key-two"}})
	dialKey := func(key string) *client {
		c := s.dialURL(t, s.url, http.Header{"X-Api-Key": {key}})
		c.whoami()
		return c
	}
	for _, sub := range []struct{ key, channel string }{
		{"key-one", "news"}, {"key-one", "news"}, {"key-one", "a:b"}, {"key-two", "news"},
	} {
		c := dialKey(sub.key)
		c.send(`{"action":"subscribe","channel":"` + sub.channel + `"}`)
		c.read()
	}
	var list apiList[apiChannel]
	getJSON(t, s.admin, "/api/channels", http.StatusOK, &list)
	got := fmt.Sprint(list.Items)
	if want := "[{key-1 a:b 1 map[]} {key-1 news 2 map[]} {key-2 news 1 map[]}]"; got != want || *list.Total != 3 {
		t.Errorf("channels %s total %v, want %s", got, *list.Total, want)
	}
	getJSON(t, s.admin, "/api/channels?tenant=key-2", http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Tenant != "key-2" {
		t.Errorf("tenant=key-2: %v", list.Items)
	}
	getJSON(t, s.admin, "/api/channels?limit=2", http.StatusOK, &list)
	next := list.Next
	getJSON(t, s.admin, "/api/channels?limit=2&cursor="+next, http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].Tenant != "key-2" || list.Next != "" {
		t.Errorf("second page: %v next %q", list.Items, list.Next)
	}
	var conns apiList[apiConnection]
	getJSON(t, s.admin, "/api/connections?tenant=key-1&channel=news", http.StatusOK, &conns)
	if len(conns.Items) != 2 {
		t.Errorf("members of key-1's news: %v", ids(conns.Items))
	}
	var names apiList[apiChannel]
	getJSON(t, s.admin, "/api/names", http.StatusOK, &names)
	if len(names.Items) != 0 {
		t.Errorf("names: %v", names.Items)
	}
}

// TestIntrospectionNodes: one node, with its address, counters and rates.
func TestIntrospectionNodes(t *testing.T) {
	s := start(t, gateway.Options{Address: "ws://example.test/"})
	c := s.dial(t)
	c.whoami()
	c.send(`{"to":"nobody"}`)
	c.read()
	var nodes apiList[apiNode]
	getJSON(t, s.admin, "/api/nodes", http.StatusOK, &nodes)
	if len(nodes.Items) != 1 {
		t.Fatalf("nodes: %+v", nodes.Items)
	}
	n := nodes.Items[0]
	if !n.Self || n.Address != "ws://example.test/" || n.Connections != 1 || n.Totals.Opened != 1 ||
		n.Totals.MessagesIn["$default"] != 2 || n.Totals.Errors["gone"] != 1 || n.Rates.MessagesIn <= 0 {
		t.Errorf("node: %+v", n)
	}
}

// TestIntrospectionEvents: the event stream sends every node's stats each
// second, to at most 16 streams at once.
func TestIntrospectionEvents(t *testing.T) {
	s := start(t, gateway.Options{})
	open := func() (*http.Response, *bufio.Reader) {
		t.Helper()
		resp, err := httpClient.Get(s.admin + "/api/events")
		if err != nil {
			t.Fatal(err)
		}
		return resp, bufio.NewReader(resp.Body)
	}
	resp, events := open()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	next := func() apiList[apiNode] {
		t.Helper()
		var name string
		for {
			line, err := events.ReadString('\n')
			if err != nil {
				t.Fatalf("read event: %v", err)
			}
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimSpace(strings.TrimPrefix(line, "event: "))
			case strings.HasPrefix(line, "data: "):
				var stats apiList[apiNode]
				if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &stats); err != nil || name != "stats" {
					t.Fatalf("event %q: %v", name, err)
				}
				return stats
			}
		}
	}
	if stats := next(); len(stats.Items) != 1 || stats.Items[0].Connections != 0 {
		t.Fatalf("first event: %+v", stats)
	}
	c := s.dial(t)
	c.whoami()
	deadline := time.Now().Add(5 * time.Second)
	for next().Items[0].Connections != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no event shows the new connection")
		}
	}

	var more []*http.Response
	for range 15 {
		r, _ := open()
		more = append(more, r)
	}
	status, _, _ := httpDo(t, "GET", s.admin+"/api/events", nil, "")
	if status != http.StatusServiceUnavailable {
		t.Errorf("17th stream: %d, want 503", status)
	}
	for _, r := range append(more, resp) {
		r.Body.Close()
	}
}

// TestIntrospectionNames: names with their holders, per tenant, and the
// names of a connection in the connection list.
func TestIntrospectionNames(t *testing.T) {
	s := start(t, gateway.Options{APIKeys: []string{"key-one", "key-two"}})
	claim := func(key, name string) string {
		c := s.dialURL(t, s.url, http.Header{"X-Api-Key": {key}})
		id := c.whoami()
		c.send(`{"action":"claim","name":"` + name + `"}`)
		if got := c.read(); got != `{"action":"claimed","name":"`+name+`"}` {
			t.Fatalf("claim: %s", got)
		}
		return id
	}
	a := claim("key-one", "billing")
	claim("key-one", "billing")
	claim("key-two", "billing")
	var names apiList[struct {
		Tenant  string   `json:"tenant"`
		Name    string   `json:"name"`
		Members int      `json:"members"`
		Holders []string `json:"holders"`
	}]
	getJSON(t, s.admin, "/api/names", http.StatusOK, &names)
	got := map[string]int{}
	for _, n := range names.Items {
		got[n.Tenant+"/"+n.Name] = n.Members
		if n.Tenant == "key-1" && len(n.Holders) != 2 {
			t.Errorf("holders of key-1's billing: %v", n.Holders)
		}
	}
	if got["key-1/billing"] != 2 || got["key-2/billing"] != 1 || len(got) != 2 {
		t.Fatalf("names %v, want key-1/billing held twice and key-2/billing once", got)
	}
	var conns apiList[apiConnection]
	getJSON(t, s.admin, "/api/connections?name=billing&tenant=key-1", http.StatusOK, &conns)
	if len(conns.Items) != 2 {
		t.Fatalf("holders of key-1's billing in the connection list: %v", ids(conns.Items))
	}
	getJSON(t, s.admin, "/api/connections/"+url.PathEscape(a), http.StatusOK, &conns.Items[0])
	if !slices.Equal(conns.Items[0].Names, []string{"billing"}) {
		t.Fatalf("names of %s: %v", a, conns.Items[0].Names)
	}
}
