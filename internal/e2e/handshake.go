package e2e

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/gorilla/websocket"
)

var handshakeTests = []test{
	{"handshake_refused", testHandshakeRefused},
	{"handshake_accepted", testHandshakeAccepted},
}

func testHandshakeRefused(t *testing.T, e *env) {
	for _, tc := range []struct {
		name   string
		path   string // after the node's URL
		header http.Header
	}{
		{"no_key", "", http.Header{}},
		{"wrong_key", "", http.Header{"X-Api-Key": {"wrong-" + e.APIKey}}},
		{"key_prefix", "", http.Header{"X-Api-Key": {e.APIKey[:len(e.APIKey)-1]}}},
		{"empty_key", "", http.Header{"X-Api-Key": {""}}},
		{"wrong_query_key", "?apiKey=" + url.QueryEscape("wrong-"+e.APIKey), http.Header{}},
		{"key_in_other_header", "", http.Header{"Authorization": {e.APIKey}}},
		{"stage_no_key", "latest", http.Header{}},
		{"stage_wrong_key", "latest", http.Header{"X-Api-Key": {"wrong-" + e.APIKey}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := e.tryDial(t, dialOptions{path: tc.path, header: tc.header})
			if err == nil {
				t.Fatalf("dial %s with header %v: connected; want HTTP 403 and no WebSocket", c.url, tc.header)
			}
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
				t.Fatalf("%v (header %v); want HTTP 403", err, tc.header)
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%v (header %v): HTTP %s; want 403", err, tc.header, resp.Status)
			}
		})
	}
}

func testHandshakeAccepted(t *testing.T, e *env) {
	key := http.Header{"X-Api-Key": {e.APIKey}}
	for _, tc := range []struct {
		name   string
		path   string // after the node's URL
		header http.Header
	}{
		{"header_key", "", key},
		{"header_key_lower_case_name", "", http.Header{"x-api-key": {e.APIKey}}},
		{"query_key", "?apiKey=" + url.QueryEscape(e.APIKey), http.Header{}},
		{"stage", "latest", key},
		{"stage_query_key", "latest?apiKey=" + url.QueryEscape(e.APIKey), http.Header{}},
		{"other_stage", "prod", key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := e.tryDial(t, dialOptions{path: tc.path, header: tc.header})
			if err != nil {
				status := "no response"
				if resp != nil {
					status = resp.Status
				}
				t.Fatalf("%v (header %v, %s)", err, tc.header, status)
			}
			me := q(c.whoami(t))
			c.expect(t, `{"action":"loopback","payload":"ok"}`, `{"to":`+me+`,"from":`+me+`,"payload":"ok"}`)
		})
	}
}
