package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// guardFor returns the management guard of a gateway with opts in front of
// a handler that answers 200 "ok", with /page a browser page.
func guardFor(opts Options) *adminGuard {
	g := &Gateway{opts: opts.withDefaults(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	return g.newAdminGuard(ok, "/page")
}

// arrivedAt returns a request to target with Host host, arrived on a
// connection to local, as net/http's Server records it.
func arrivedAt(local, host, target string) *http.Request {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = host
	addr, err := net.ResolveTCPAddr("tcp", local)
	if err != nil {
		panic(err)
	}
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, addr))
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestBrowserPageBasic: a browser page accepts HTTP Basic with the
// management key pair; an API route does not.
func TestBrowserPageBasic(t *testing.T) {
	guard := guardFor(Options{AdminAccessKeyID: "AKIDADMIN", AdminSecretAccessKey: "secret"})
	for _, tc := range []struct {
		name, target, user, password string
		basic                        bool
		want                         int
	}{
		{name: "page without credentials", target: "/page", want: http.StatusUnauthorized},
		{name: "page with the pair", target: "/page", basic: true, user: "AKIDADMIN", password: "secret", want: http.StatusOK},
		{name: "page with a wrong password", target: "/page", basic: true, user: "AKIDADMIN", password: "secreT", want: http.StatusUnauthorized},
		{name: "page with a wrong user", target: "/page", basic: true, user: "AKIDOTHER", password: "secret", want: http.StatusUnauthorized},
		{name: "page with an empty pair", target: "/page", basic: true, want: http.StatusUnauthorized},
		{name: "API route with the pair in Basic", target: "/@connections/x", basic: true, user: "AKIDADMIN", password: "secret", want: http.StatusForbidden},
		{name: "open path", target: "/healthz", want: http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := arrivedAt("127.0.0.1:8081", "127.0.0.1:8081", tc.target)
			if tc.basic {
				r.SetBasicAuth(tc.user, tc.password)
			}
			w := serve(guard, r)
			if w.Code != tc.want {
				t.Fatalf("status %d %s, want %d", w.Code, w.Body, tc.want)
			}
			if tc.want == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}

	// Without credentials configured an empty pair does not pass Basic,
	// and the page is open like the rest of the listener.
	open := guardFor(Options{})
	r := arrivedAt("127.0.0.1:8081", "127.0.0.1:8081", "/page")
	r.SetBasicAuth("", "")
	if open.basicAuthorized(r) {
		t.Error("an empty pair passed Basic")
	}
	if w := serve(open, r); w.Code != http.StatusOK {
		t.Errorf("page without credentials configured: %d", w.Code)
	}
}

// TestHostNamesListener covers the listener addresses a real socket test
// cannot easily bind: IPv6, all interfaces, a port given with zeros.
func TestHostNamesListener(t *testing.T) {
	guard := guardFor(Options{AdminHosts: []string{"admin.internal:8081", "[fd00::5]", "bad host name", "10.0.0.9:99999"}})
	for _, tc := range []struct {
		local, host string
		want        bool
	}{
		{"127.0.0.1:8081", "127.0.0.1:8081", true},
		{"127.0.0.1:8081", "127.0.0.1:08081", true},
		{"127.0.0.1:8081", "127.0.0.2:8081", true}, // loopback, still this machine
		{"127.0.0.1:8081", "localhost:8081", true},
		{"127.0.0.1:8081", "localhost.:8081", false},
		{"127.0.0.1:8081", "[::1]:8081", true},
		{"127.0.0.1:8081", "[::ffff:127.0.0.1]:8081", true},
		{"127.0.0.1:8081", "127.0.0.1:8082", false},
		{"127.0.0.1:8081", "127.0.0.1", false},
		{"127.0.0.1:8081", "", false},
		{"127.0.0.1:8081", "rebound.example:8081", false},
		{"127.0.0.1:8081", "admin.internal:8081", true},
		{"127.0.0.1:8081", "ADMIN.INTERNAL:8081", true},
		{"127.0.0.1:8081", "admin.internal:8082", false},
		{"127.0.0.1:8081", "[fd00::5]:1234", true},
		{"127.0.0.1:8081", "10.0.0.9:99999", false},
		{"[::1]:80", "[::1]", true},
		{"[::1]:80", "localhost", true},
		{"[::1]:80", "::1", true},
		{"192.0.2.7:8081", "192.0.2.7:8081", true}, // a listener on all interfaces, reached on one
		{"192.0.2.7:8081", "localhost:8081", false},
		{"192.0.2.7:8081", "127.0.0.1:8081", false},
		{"192.0.2.7:8081", "192.0.2.8:8081", false},
		{"[2001:db8::7]:8081", "[2001:DB8::7]:8081", true},
		{"[2001:db8::7]:8081", "[2001:db8::8]:8081", false},
	} {
		r := arrivedAt(tc.local, tc.host, "/healthz")
		if got := guard.hostAllowed(r); got != tc.want {
			t.Errorf("connection to %s, Host %q: allowed %v, want %v", tc.local, tc.host, got, tc.want)
		}
	}

	// Without the connection's address (a handler not served by
	// net/http's Server) only the listed hosts pass.
	r := httptest.NewRequest("GET", "/healthz", nil)
	for host, want := range map[string]bool{"127.0.0.1:8081": false, "localhost:8081": false, "admin.internal:8081": true} {
		r.Host = host
		if got := guard.hostAllowed(r); got != want {
			t.Errorf("no local address, Host %q: allowed %v, want %v", host, got, want)
		}
	}
}

// TestCrossOriginAnyHost: with the Host check off, a page's Origin must
// still be the origin its request names in Host.
func TestCrossOriginAnyHost(t *testing.T) {
	guard := guardFor(Options{AdminHosts: []string{"*"}})
	for origin, want := range map[string]int{
		"http://admin.example:8081":    http.StatusOK,
		"http://ADMIN.example:8081/":   http.StatusOK,
		"http://attacker.example:8081": http.StatusForbidden,
		"http://admin.example:8082":    http.StatusForbidden,
		"https://admin.example:8081":   http.StatusForbidden,
		"http://admin.example":         http.StatusForbidden,
	} {
		r := arrivedAt("127.0.0.1:8081", "admin.example:8081", "/healthz")
		r.Header.Set("Origin", origin)
		if w := serve(guard, r); w.Code != want {
			t.Errorf("Origin %q: %d, want %d", origin, w.Code, want)
		}
	}
}
