package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/gateway"
)

const (
	adminKeyID  = "AKIDMONOLOGUEADMIN"
	adminSecret = "management/secret+key=="
)

// signedOptions is a gateway whose management listener requires adminKeyID.
var signedOptions = gateway.Options{AdminAccessKeyID: adminKeyID, AdminSecretAccessKey: adminSecret}

// managementAs returns the real AWS SDK client signing with the given key.
func managementAs(endpoint, keyID, secret string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "eu-central-1",
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:   httpClient,
		Retryer:      aws.NopRetryer{},
	})
}

// dialWith dials connections until one's ID contains special ("=", "/" or
// "+"), closing the others.
func dialWith(t *testing.T, s *server, special string) (*client, string) {
	t.Helper()
	for range 300 {
		c := s.dial(t)
		if id := c.whoami(); strings.Contains(id, special) {
			return c, id
		}
		c.close()
	}
	t.Fatalf("no connection ID with %q in 300 connections", special)
	return nil, ""
}

// TestManagementSigned runs PostToConnection, GetConnection and
// DeleteConnection through the real SDK client signing with the configured
// key, on IDs that the SDK escapes, with and without a stage prefix.
func TestManagementSigned(t *testing.T) {
	s := start(t, signedOptions)
	ctx := context.Background()
	for _, endpoint := range []string{s.admin, s.admin + "/latest"} {
		api := managementAs(endpoint, adminKeyID, adminSecret)
		for _, special := range []string{"=", "/", "+"} {
			t.Run(strings.TrimPrefix(endpoint, s.admin)+" "+special, func(t *testing.T) {
				c, id := dialWith(t, s, special)
				if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: aws.String(id), Data: []byte("signed " + id),
				}); err != nil {
					t.Fatalf("PostToConnection(%q): %v", id, err)
				}
				if got := c.read(); got != "signed "+id {
					t.Fatalf("posted frame %q", got)
				}
				out, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
				if err != nil || aws.ToString(out.Identity.SourceIp) != "127.0.0.1" {
					t.Fatalf("GetConnection(%q): %+v, %v", id, out, err)
				}
				if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
					t.Fatalf("DeleteConnection(%q): %v", id, err)
				}
				if status := c.closeStatus(5 * time.Second); status != websocket.CloseNormalClosure {
					t.Errorf("after DeleteConnection: close %d, want 1000", status)
				}
			})
		}
	}
}

// TestManagementRefusesBadSignatures sends requests that must not pass: each
// gets 403 ForbiddenException, and nothing reaches the connection.
func TestManagementRefusesBadSignatures(t *testing.T) {
	s := start(t, signedOptions)
	ctx := context.Background()
	c := s.dial(t)
	id := c.whoami()
	postURL := s.admin + "/latest/@connections/" + url.PathEscape(id)

	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"wrong secret", func() error {
			_, err := managementAs(s.admin, adminKeyID, "not the secret").PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("forged")})
			return err
		}},
		{"wrong key ID", func() error {
			_, err := managementAs(s.admin, "AKIDSOMEONEELSE", adminSecret).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{ConnectionId: aws.String(id), Data: []byte("forged")})
			return err
		}},
		{"wrong secret, get", func() error {
			_, err := managementAs(s.admin, adminKeyID, "not the secret").GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			return err
		}},
		{"wrong secret, delete", func() error {
			_, err := managementAs(s.admin+"/latest", adminKeyID, "not the secret").DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := errors.AsType[*types.ForbiddenException](tc.call()); !ok {
				t.Fatalf("want ForbiddenException")
			}
		})
	}

	for _, tc := range []struct {
		name string
		req  func(t *testing.T) *http.Request
	}{
		{"unsigned", func(t *testing.T) *http.Request {
			return newRequest(t, "POST", postURL, "forged")
		}},
		{"tampered body", func(t *testing.T) *http.Request {
			r := signRequest(t, newRequest(t, "POST", postURL, "signed"), "signed", adminService, time.Now())
			r.Body = io.NopCloser(strings.NewReader("forged"))
			return r
		}},
		{"expired", func(t *testing.T) *http.Request {
			return signRequest(t, newRequest(t, "POST", postURL, "forged"), "forged", adminService, time.Now().Add(-16*time.Minute))
		}},
		{"wrong service", func(t *testing.T) *http.Request {
			return signRequest(t, newRequest(t, "POST", postURL, "forged"), "forged", "execute-apx", time.Now())
		}},
		{"signed for another connection", func(t *testing.T) *http.Request {
			r := signRequest(t, newRequest(t, "POST", s.admin+"/latest/@connections/"+url.PathEscape("other="), "forged"), "forged", adminService, time.Now())
			r.URL, _ = url.Parse(postURL)
			return r
		}},
		{"no such route, unsigned", func(t *testing.T) *http.Request {
			return newRequest(t, "GET", s.admin+"/debug/pprof/", "")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, header, body := do(t, tc.req(t))
			assertForbidden(t, status, header, body)
		})
	}

	// The first frame the connection gets is the signed one: no refused
	// post was delivered.
	if _, err := managementAs(s.admin, adminKeyID, adminSecret).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: []byte("genuine"),
	}); err != nil {
		t.Fatal(err)
	}
	if got := c.read(); got != "genuine" {
		t.Fatalf("connection received %q, want only the signed post", got)
	}
	if _, ok := s.gw.Connection(id); !ok {
		t.Fatal("the refused delete closed the connection")
	}
}

// TestManagementSignedTooLarge: a signed post over the message size limit
// is PayloadTooLargeException, as unsigned ones are without credentials;
// its body is never read past the limit to check the signature.
func TestManagementSignedTooLarge(t *testing.T) {
	opts := signedOptions
	opts.MaxMessageSize = 1024
	s := start(t, opts)
	c := s.dial(t)
	id := c.whoami()
	_, err := managementAs(s.admin, adminKeyID, adminSecret).PostToConnection(context.Background(), &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(id), Data: make([]byte, 1025),
	})
	if _, ok := errors.AsType[*types.PayloadTooLargeException](err); !ok {
		t.Fatalf("post of 1025 bytes: %v, want PayloadTooLargeException", err)
	}
}

// TestManagementOpenPaths: health and metrics need no signature.
func TestManagementOpenPaths(t *testing.T) {
	s := start(t, signedOptions)
	for _, path := range []string{"/healthz", "/metrics"} {
		if status, _, _ := do(t, newRequest(t, "GET", s.admin+path, "")); status != http.StatusOK {
			t.Errorf("GET %s unsigned: %d, want 200", path, status)
		}
	}
}

// TestManagementHost: the management listener answers only requests whose
// Host names it, with or without credentials.
func TestManagementHost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    gateway.Options
		host    func(port string) string
		allowed bool
	}{
		{"own address", gateway.Options{}, func(p string) string { return "127.0.0.1:" + p }, true},
		{"localhost", gateway.Options{}, func(p string) string { return "localhost:" + p }, true},
		{"LOCALHOST", gateway.Options{}, func(p string) string { return "LOCALHOST:" + p }, true},
		{"IPv6 loopback", gateway.Options{}, func(p string) string { return "[::1]:" + p }, true},
		{"rebound domain", gateway.Options{}, func(p string) string { return "attacker.example:" + p }, false},
		{"rebound domain, signed listener", signedOptions, func(p string) string { return "attacker.example:" + p }, false},
		{"another port", gateway.Options{}, func(string) string { return "127.0.0.1:1" }, false},
		{"no port", gateway.Options{}, func(string) string { return "localhost" }, false},
		{"a listed name and port", gateway.Options{AdminHosts: []string{"Admin.Internal:9"}}, func(string) string { return "admin.internal:9" }, true},
		{"a listed name, any port", gateway.Options{AdminHosts: []string{"admin.internal"}}, func(p string) string { return "admin.internal:" + p }, true},
		{"an unlisted name", gateway.Options{AdminHosts: []string{"admin.internal"}}, func(p string) string { return "other.internal:" + p }, false},
		{"any host", gateway.Options{AdminHosts: []string{"*"}}, func(p string) string { return "attacker.example:" + p }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := start(t, tc.opts)
			u, _ := url.Parse(s.admin)
			host := tc.host(u.Port())
			for _, path := range []string{"/healthz", "/metrics", "/@connections/" + url.PathEscape("AAAAAAAAAAAAAAA=")} {
				r := newRequest(t, "GET", s.admin+path, "")
				r.Host = host
				status, header, body := do(t, r)
				if !tc.allowed {
					assertForbidden(t, status, header, body)
				} else if status == http.StatusForbidden {
					t.Errorf("GET %s with Host %q: 403 %s", path, host, body)
				}
			}
		})
	}
}

// TestManagementCrossOrigin: a web page elsewhere cannot post to a
// connection, even with a "simple" text/plain request that needs no
// preflight; the listener's own origin and programs without Origin can.
func TestManagementCrossOrigin(t *testing.T) {
	s := start(t, gateway.Options{})
	c := s.dial(t)
	id := c.whoami()
	postURL := s.admin + "/@connections/" + url.PathEscape(id)
	for _, tc := range []struct {
		name    string
		header  http.Header
		allowed bool
	}{
		{"another origin", http.Header{"Origin": {"https://attacker.example"}}, false},
		{"another origin, same host, other port", http.Header{"Origin": {"http://127.0.0.1:1"}}, false},
		{"https origin of this host", http.Header{"Origin": {strings.Replace(s.admin, "http:", "https:", 1)}}, false},
		{"opaque origin", http.Header{"Origin": {"null"}}, false},
		{"cross-site fetch", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"same-site fetch", http.Header{"Sec-Fetch-Site": {"same-site"}}, false},
		{"cross-site fetch, own origin", http.Header{"Origin": {s.admin}, "Sec-Fetch-Site": {"cross-site"}}, false},
		{"own origin", http.Header{"Origin": {s.admin}, "Sec-Fetch-Site": {"same-origin"}}, true},
		{"typed in the address bar", http.Header{"Sec-Fetch-Site": {"none"}}, true},
		{"no Origin", http.Header{}, true},
		{"another loopback origin", http.Header{"Origin": {strings.Replace(s.admin, "127.0.0.1", "localhost", 1)}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(t, "POST", postURL, tc.name)
			r.Header.Set("Content-Type", "text/plain")
			for k, v := range tc.header {
				r.Header[k] = v
			}
			status, header, body := do(t, r)
			if !tc.allowed {
				assertForbidden(t, status, header, body)
				return
			}
			if status != http.StatusOK {
				t.Fatalf("status %d %s, want 200", status, body)
			}
			if got := c.read(); got != tc.name {
				t.Fatalf("delivered %q", got)
			}
		})
	}
}

// TestManagementOneCredential: setting only one of the pair refuses every
// request that needs a signature, rather than serving them unsigned.
func TestManagementOneCredential(t *testing.T) {
	for _, opts := range []gateway.Options{{AdminAccessKeyID: adminKeyID}, {AdminSecretAccessKey: adminSecret}} {
		s := start(t, opts)
		status, header, body := do(t, newRequest(t, "GET", s.admin+"/@connections/"+url.PathEscape("AAAAAAAAAAAAAAA="), ""))
		assertForbidden(t, status, header, body)
		if !strings.Contains(s.logs.String(), "only one of AdminAccessKeyID and AdminSecretAccessKey") {
			t.Errorf("no error logged: %s", s.logs.String())
		}
	}
}

const adminService = "execute-api"

func newRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signRequest signs r (whose body is body) with the admin key and the AWS
// SDK's signer, as the SDK's clients do.
func signRequest(t *testing.T, r *http.Request, body, service string, at time.Time) *http.Request {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: adminKeyID, SecretAccessKey: adminSecret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

func do(t *testing.T, r *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := httpClient.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(data)
}

// assertForbidden checks the answer the SDK turns into ForbiddenException.
func assertForbidden(t *testing.T, status int, header http.Header, body string) {
	t.Helper()
	var msg struct{ Message string }
	if status != http.StatusForbidden || header.Get("x-amzn-ErrorType") != "ForbiddenException" ||
		json.Unmarshal([]byte(body), &msg) != nil || msg.Message == "" {
		t.Fatalf("got %d %q %s, want 403 ForbiddenException with a message", status, header.Get("x-amzn-ErrorType"), body)
	}
}
