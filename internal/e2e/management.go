package e2e

import (
	"github.com/monologue-go/monologue/internal/poll"

	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

var managementTests = []test{
	{"connections_post", testConnectionsPost},
	{"connections_post_too_large", testConnectionsPostTooLarge},
	{"connections_get", testConnectionsGet},
	{"connections_delete", testConnectionsDelete},
	{"connections_gone", testConnectionsGone},
	{"connections_escaped_ids", testConnectionsEscapedIDs},
	{"connections_not_public", testConnectionsNotPublic},
	{"health_and_metrics", testHealthAndMetrics},
}

// stagePrefixes are the ways the AWS SDK may address the management API:
// with its endpoint at the root or at a stage.
var stagePrefixes = []string{"", "/latest"}

// awsEscape escapes a connection ID as the AWS SDK does in a path: every
// byte but the unreserved ones (so "=" is %3D, "/" is %2F, "+" is %2B).
func awsEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// connectionURL is the management API's URL of connection id on the
// management listener adminURL, with a stage prefix ("" or "/latest").
func connectionURL(adminURL, prefix, id string) string {
	return adminURL + prefix + "/@connections/" + awsEscape(id)
}

func testConnectionsPost(t *testing.T, e *env) {
	c := e.dial(t)
	id := c.ID(t)
	for _, prefix := range stagePrefixes {
		for _, body := range []string{
			`{"any":"json", "kept":[1, 2]}`,
			`not JSON at all: é ✓ "quoted"`,
			`whoami`,
		} {
			u := connectionURL(e.adminURL(c), prefix, id)
			status, _, resp := e.httpDo(t, http.MethodPost, u, nil, body)
			if status != http.StatusOK {
				t.Fatalf("POST %s with body %q: status %d, want 200 (body: %s)", u, body, status, resp)
			}
			c.expectFrame(t, "POST "+u+" "+q(body), body)
		}
	}
	c.expectNothingPending(t, "the connection still works after management posts")
}

func testConnectionsPostTooLarge(t *testing.T, e *env) {
	c := e.dial(t)
	u := connectionURL(e.adminURL(c), "", c.ID(t))
	body := strings.Repeat("y", e.cfg.MaxMessageSize)
	if status, _, resp := e.httpDo(t, http.MethodPost, u, nil, body); status != http.StatusOK {
		t.Fatalf("POST %s with a body of exactly the limit (%d bytes): status %d, want 200 (body: %s)", u, len(body), status, resp)
	}
	c.expectFrame(t, "POST "+u+" (exactly the limit)", body)
	status, header, resp := e.httpDo(t, http.MethodPost, u, nil, body+"y")
	checkAWSError(t, "POST "+u+" (one byte over the limit)", status, header, resp, http.StatusRequestEntityTooLarge, "PayloadTooLargeException")
	c.expectNothingPending(t, "a post over the limit is not delivered and the connection lives on")
}

// connectionInfo is the body of GET /@connections/{id}.
type connectionInfo struct {
	ConnectedAt *string `json:"connectedAt"`
	Identity    *struct {
		SourceIP  *string `json:"sourceIp"`
		UserAgent *string `json:"userAgent"`
	} `json:"identity"`
	LastActiveAt *string `json:"lastActiveAt"`
}

func parseTime(t *testing.T, what, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s %q is not an ISO 8601 time: %v", what, s, err)
	}
	return at
}

func testConnectionsGet(t *testing.T, e *env) {
	before := time.Now().Add(-2 * time.Second) // allow for clock rounding
	c := e.dial(t)
	id := c.ID(t)
	for _, prefix := range stagePrefixes {
		u := connectionURL(e.adminURL(c), prefix, id)
		status, header, body := e.httpDo(t, http.MethodGet, u, nil, "")
		if status != http.StatusOK {
			t.Fatalf("GET %s: status %d, want 200 (body: %s)", u, status, body)
		}
		if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("GET %s: Content-Type %q, want application/json", u, ct)
		}
		var info connectionInfo
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			t.Fatalf("GET %s: body is not JSON: %v\n  body: %s", u, err, body)
		}
		if info.ConnectedAt == nil || info.LastActiveAt == nil || info.Identity == nil || info.Identity.SourceIP == nil || info.Identity.UserAgent == nil {
			t.Fatalf("GET %s: want connectedAt, identity.sourceIp, identity.userAgent and lastActiveAt, got %s", u, body)
		}
		connected := parseTime(t, "connectedAt", *info.ConnectedAt)
		active := parseTime(t, "lastActiveAt", *info.LastActiveAt)
		after := time.Now().Add(2 * time.Second)
		if connected.Before(before) || connected.After(after) {
			t.Errorf("GET %s: connectedAt %s is not the time of connecting (about %s)", u, *info.ConnectedAt, time.Now().UTC().Format(time.RFC3339))
		}
		if active.Before(connected) || active.After(after) {
			t.Errorf("GET %s: lastActiveAt %s is not between connectedAt %s and now", u, *info.LastActiveAt, *info.ConnectedAt)
		}
		if *info.Identity.SourceIP != "127.0.0.1" {
			t.Errorf("GET %s: identity.sourceIp %q, want 127.0.0.1", u, *info.Identity.SourceIP)
		}
		if *info.Identity.UserAgent != userAgent {
			t.Errorf("GET %s: identity.userAgent %q, want %q", u, *info.Identity.UserAgent, userAgent)
		}
	}
	c.expectNothingPending(t, "GET sends nothing to the connection")
}

// checkAWSError checks an error response of the management API: status, the
// x-amzn-ErrorType header and a JSON body with a message.
func checkAWSError(t *testing.T, req string, status int, header http.Header, body string, wantStatus int, wantType string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d (body: %s)", req, status, wantStatus, body)
	}
	if got := header.Get("X-Amzn-Errortype"); got != wantType {
		t.Fatalf("%s: header x-amzn-ErrorType %q, want %q", req, got, wantType)
	}
	var msg struct {
		Message *string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg.Message == nil {
		t.Fatalf(`%s: body %q, want {"message":"…"}`, req, body)
	}
}

func testConnectionsDelete(t *testing.T, e *env) {
	for _, prefix := range stagePrefixes {
		t.Run("prefix="+prefix, func(t *testing.T) {
			a, b := pair(t, e)
			u := connectionURL(e.adminURL(b), prefix, b.id)
			status, _, body := e.httpDo(t, http.MethodDelete, u, nil, "")
			if status != http.StatusNoContent {
				t.Fatalf("DELETE %s: status %d, want 204 (body: %s)", u, status, body)
			}
			b.expectClose(t, -1, frameTimeout)
			poll.Until(t, frameTimeout, func() string {
				if status, _, _ := e.httpDo(t, http.MethodGet, u, nil, ""); status != http.StatusGone {
					return "GET after DELETE: status " + http.StatusText(status)
				}
				return ""
			})
			for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
				status, header, body := e.httpDo(t, method, u, nil, postBody(method, "x"))
				checkAWSError(t, method+" "+u+" after DELETE", status, header, body, http.StatusGone, "GoneException")
			}
			a.expectError(t, `{"to":`+q(b.id)+`,"payload":1}`, errorWant{code: "gone", to: b.id})
		})
	}
}

func testConnectionsGone(t *testing.T, e *env) {
	for _, prefix := range stagePrefixes {
		for _, id := range []string{neverIssued, "AAAAAAAAAAAAAAA=", "a/b+c=", "x"} {
			u := connectionURL(e.adminURL(nil), prefix, id)
			for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
				status, header, body := e.httpDo(t, method, u, nil, postBody(method, `{"x":1}`))
				checkAWSError(t, method+" "+u, status, header, body, http.StatusGone, "GoneException")
			}
		}
	}
	// A connection that closed by itself is gone too.
	c := e.dial(t)
	u := connectionURL(e.adminURL(c), "", c.ID(t))
	c.close()
	poll.Until(t, frameTimeout, func() string {
		status, header, body := e.httpDo(t, http.MethodPost, u, nil, "late")
		if status == http.StatusOK {
			return "POST to a closed connection still answers 200"
		}
		checkAWSError(t, "POST "+u+" after the client closed", status, header, body, http.StatusGone, "GoneException")
		return ""
	})
}

func testConnectionsEscapedIDs(t *testing.T, e *env) {
	// IDs are random base64: dial until IDs with each character that needs
	// escaping have turned up (each ID has "/" or "+" with odds of about 1 in 5).
	want := map[byte]*conn{'=': nil, '/': nil, '+': nil}
	for i := 0; i < 60 && (want['='] == nil || want['/'] == nil || want['+'] == nil); i++ {
		c := e.dial(t)
		id := c.ID(t)
		kept := false
		for ch, have := range want {
			if have == nil && strings.IndexByte(id, ch) >= 0 {
				want[ch] = c
				kept = true
			}
		}
		if !kept {
			c.close()
		}
	}
	for ch, c := range want {
		if c == nil {
			t.Logf("no connection ID with %q turned up in 60 connections; not checked", ch)
			continue
		}
		for _, prefix := range stagePrefixes {
			u := connectionURL(e.adminURL(c), prefix, c.id)
			if status, _, body := e.httpDo(t, http.MethodGet, u, nil, ""); status != http.StatusOK {
				t.Fatalf("GET %s (ID %q, with %q escaped): status %d, want 200 (body: %s)", u, c.id, ch, status, body)
			}
			if status, _, body := e.httpDo(t, http.MethodPost, u, nil, "escaped"); status != http.StatusOK {
				t.Fatalf("POST %s (ID %q, with %q escaped): status %d, want 200 (body: %s)", u, c.id, ch, status, body)
			}
			c.expectFrame(t, "POST "+u+" escaped", "escaped")
		}
	}
}

func testConnectionsNotPublic(t *testing.T, e *env) {
	c := e.dial(t)
	u := e.publicURL(c) + "/@connections/" + awsEscape(c.ID(t))
	for _, header := range []http.Header{nil, {"X-Api-Key": {e.APIKey}}} {
		if status, _, _ := e.httpDo(t, http.MethodPost, u, header, "from the public listener"); status >= 200 && status <= 299 {
			t.Fatalf("POST %s on the public listener: status %d; the management API must not be public", u, status)
		}
	}
	c.expectNothingPending(t, "the management API on the public listener delivers nothing")
}

func testHealthAndMetrics(t *testing.T, e *env) {
	for _, n := range e.Nodes {
		for _, u := range []string{n.PublicURL + "/healthz", n.AdminURL + "/healthz", n.AdminURL + "/metrics"} {
			if status, _, body := e.httpDo(t, http.MethodGet, u, nil, ""); status != http.StatusOK {
				t.Errorf("GET %s: status %d, want 200 (body: %.200s)", u, status, body)
			}
		}
	}
}

// postBody returns body for a POST and nothing for other methods.
func postBody(method, body string) string {
	if method == http.MethodPost {
		return body
	}
	return ""
}
