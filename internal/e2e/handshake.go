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
	stage := e.URL + "latest"
	for _, tc := range []struct {
		name   string
		url    string
		header http.Header
	}{
		{"no_key", e.URL, http.Header{}},
		{"wrong_key", e.URL, http.Header{"X-Api-Key": {"wrong-" + e.APIKey}}},
		{"key_prefix", e.URL, http.Header{"X-Api-Key": {e.APIKey[:len(e.APIKey)-1]}}},
		{"empty_key", e.URL, http.Header{"X-Api-Key": {""}}},
		{"wrong_query_key", e.URL + "?apiKey=" + url.QueryEscape("wrong-"+e.APIKey), http.Header{}},
		{"key_in_other_header", e.URL, http.Header{"Authorization": {e.APIKey}}},
		{"stage_no_key", stage, http.Header{}},
		{"stage_wrong_key", stage, http.Header{"X-Api-Key": {"wrong-" + e.APIKey}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := tryDial(t, dialOptions{url: tc.url, header: tc.header})
			if err == nil {
				t.Fatalf("dial %s with header %v: connected; want HTTP 403 and no WebSocket", tc.url, tc.header)
			}
			if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil {
				t.Fatalf("dial %s with header %v: %v; want HTTP 403", tc.url, tc.header, err)
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("dial %s with header %v: HTTP %s; want 403", tc.url, tc.header, resp.Status)
			}
		})
	}
}

func testHandshakeAccepted(t *testing.T, e *env) {
	key := http.Header{"X-Api-Key": {e.APIKey}}
	for _, tc := range []struct {
		name   string
		url    string
		header http.Header
	}{
		{"header_key", e.URL, key},
		{"header_key_lower_case_name", e.URL, http.Header{"x-api-key": {e.APIKey}}},
		{"query_key", e.URL + "?apiKey=" + url.QueryEscape(e.APIKey), http.Header{}},
		{"stage", e.URL + "latest", key},
		{"stage_query_key", e.URL + "latest?apiKey=" + url.QueryEscape(e.APIKey), http.Header{}},
		{"other_stage", e.URL + "prod", key},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := tryDial(t, dialOptions{url: tc.url, header: tc.header})
			if err != nil {
				status := "no response"
				if resp != nil {
					status = resp.Status
				}
				t.Fatalf("dial %s with header %v: %v (%s)", tc.url, tc.header, err, status)
			}
			me := q(c.whoami(t))
			c.expect(t, `{"action":"loopback","payload":"ok"}`, `{"to":`+me+`,"from":`+me+`,"payload":"ok"}`)
		})
	}
}
