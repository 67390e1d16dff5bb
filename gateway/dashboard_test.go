package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestDashboardGuard: with management credentials, the dashboard, its
// files, the introspection API and its event stream accept HTTP Basic with
// the pair as well as a signature, and nothing else; the @connections API
// still takes signatures only; nothing on the public listener serves them.
func TestDashboardGuard(t *testing.T) {
	s := start(t, signedOptions)
	c := s.dial(t)
	id := c.whoami()
	basic := func(r *http.Request) *http.Request { r.SetBasicAuth(adminKeyID, adminSecret); return r }
	wrongBasic := func(r *http.Request) *http.Request { r.SetBasicAuth(adminKeyID, "wrong"); return r }
	signed := func(r *http.Request) *http.Request { return signRequest(t, r, "", adminService, time.Now()) }
	none := func(r *http.Request) *http.Request { return r }
	for _, tc := range []struct {
		name, method, path string
		auth               func(*http.Request) *http.Request
		want               int
	}{
		{"page, no credentials", "GET", "/", none, http.StatusUnauthorized},
		{"page, wrong Basic", "GET", "/", wrongBasic, http.StatusUnauthorized},
		{"page, Basic", "GET", "/", basic, http.StatusOK},
		{"page's script, Basic", "GET", "/dashboard/app.js", basic, http.StatusOK},
		{"page's script, no credentials", "GET", "/dashboard/app.js", none, http.StatusUnauthorized},
		{"API, no credentials", "GET", "/api/connections", none, http.StatusUnauthorized},
		{"API, wrong Basic", "GET", "/api/connections", wrongBasic, http.StatusUnauthorized},
		{"API, Basic", "GET", "/api/connections", basic, http.StatusOK},
		{"API, signed", "GET", "/api/connections", signed, http.StatusOK},
		{"API detail, Basic", "GET", "/api/connections/" + url.PathEscape(id), basic, http.StatusOK},
		{"nodes, Basic", "GET", "/api/nodes", basic, http.StatusOK},
		{"@connections, Basic", "GET", "/@connections/" + url.PathEscape(id), basic, http.StatusForbidden},
		{"@connections, signed", "GET", "/@connections/" + url.PathEscape(id), signed, http.StatusOK},
		{"a path that leaves /api/, Basic", "GET", "/api/../@connections/" + url.PathEscape(id), basic, http.StatusForbidden},
		{"metrics stay open", "GET", "/metrics", none, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.auth(newRequest(t, tc.method, s.admin+tc.path, ""))
			status, header, body := do(t, r)
			if status != tc.want {
				t.Fatalf("%d %s, want %d", status, body, tc.want)
			}
			if status == http.StatusUnauthorized && !strings.HasPrefix(header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("401 without a Basic challenge: %q", header.Get("WWW-Authenticate"))
			}
		})
	}

	// The event stream, with Basic.
	r := basic(newRequest(t, "GET", s.admin+"/api/events", ""))
	resp, err := httpClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("events with Basic: %d", resp.StatusCode)
	}

	// Nothing of it on the public listener.
	for _, path := range []string{"/api/connections", "/dashboard/app.js", "/api/events"} {
		if status, _, _ := httpDo(t, "GET", s.http+path, http.Header{"X-Api-Key": {testKey}}, ""); status != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", path, status)
		}
	}
}

// TestDashboardCrossSite: a page of another origin cannot act through the
// API, even when the browser holds the Basic credentials and sends them
// along (a cross-site request forgery); the dashboard's own origin can.
func TestDashboardCrossSite(t *testing.T) {
	s := start(t, signedOptions)
	c := s.dial(t)
	id := c.whoami()
	for _, tc := range []struct {
		name, method, path string
		header             http.Header
		allowed            bool
	}{
		{"send from another origin", "POST", "/api/connections/" + url.PathEscape(id), http.Header{"Origin": {"https://attacker.example"}}, false},
		{"publish from another origin", "POST", "/api/channels/default/news", http.Header{"Origin": {"https://attacker.example"}}, false},
		{"close from an opaque origin", "DELETE", "/api/connections/" + url.PathEscape(id), http.Header{"Origin": {"null"}}, false},
		{"list, cross-site", "GET", "/api/connections", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"events, same-site", "GET", "/api/events", http.Header{"Sec-Fetch-Site": {"same-site"}}, false},
		{"page framed cross-site", "GET", "/", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"send from the dashboard", "POST", "/api/connections/" + url.PathEscape(id), http.Header{"Origin": {s.admin}, "Sec-Fetch-Site": {"same-origin"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, tc.method, s.admin+tc.path, "frame")
			r.Header.Set("Content-Type", "text/plain")
			r.SetBasicAuth(adminKeyID, adminSecret)
			for k, v := range tc.header {
				r.Header[k] = v
			}
			status, header, body := do(t, r)
			if !tc.allowed {
				assertForbidden(t, status, header, body)
				return
			}
			if status != http.StatusOK {
				t.Fatalf("%d %s, want 200", status, body)
			}
			if got := c.read(); got != "frame" {
				t.Fatalf("delivered %q", got)
			}
		})
	}
}

// TestDashboardFiles: the page and its files come from the binary, with a
// policy that allows no inline script and no frame around the page.
func TestDashboardFiles(t *testing.T) {
	s := start(t, gateway.Options{})
	for path, contentType := range map[string]string{
		"/":                    "text/html; charset=utf-8",
		"/dashboard/app.js":    "text/javascript; charset=utf-8",
		"/dashboard/chart.js":  "text/javascript; charset=utf-8",
		"/dashboard/style.css": "text/css; charset=utf-8",
	} {
		status, header, body := httpDo(t, "GET", s.admin+path, nil, "")
		if status != http.StatusOK || header.Get("Content-Type") != contentType || body == "" {
			t.Errorf("%s: %d %q", path, status, header.Get("Content-Type"))
		}
		csp := header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
	}
	for _, path := range []string{"/dashboard/nothing.js", "/dashboard/..%2fdashboard.go", "/index.html"} {
		if status, _, _ := httpDo(t, "GET", s.admin+path, nil, ""); status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, status)
		}
	}
	// The page's script never turns server data into HTML.
	for _, file := range []string{"/dashboard/app.js", "/dashboard/chart.js"} {
		_, _, body := httpDo(t, "GET", s.admin+file, nil, "")
		for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(body, sink) {
				t.Errorf("%s uses %s", file, sink)
			}
		}
	}
}
