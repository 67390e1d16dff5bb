package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/monologue-go/monologue/internal/sigv4"
)

const (
	keyID   = "AKIDEXAMPLE"
	secret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	service = "execute-api"
)

// signedAt is the clock of every test: requests are signed at it and the
// verifier's Now returns it unless a case says otherwise.
var signedAt = time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)

func verifier() *sigv4.Verifier {
	return &sigv4.Verifier{
		AccessKeyID: keyID, SecretAccessKey: secret, Service: service,
		MaxBodyBytes: 1024,
		Now:          func() time.Time { return signedAt },
	}
}

// request is a request as a client builds it, before signing.
type request struct {
	method, url, body string
	header            http.Header
}

// signOptions vary how the SDK's signer signs a request.
type signOptions struct {
	keyID, secret, service, region string
	at                             time.Time
	contentSHA                     bool // send X-Amz-Content-Sha256
}

// sign signs req with the AWS SDK's own SigV4 signer and returns the request
// as the server parses it off the wire.
func sign(t testing.TB, req request, o signOptions) *http.Request {
	t.Helper()
	if o.keyID == "" {
		o.keyID = keyID
	}
	if o.secret == "" {
		o.secret = secret
	}
	if o.service == "" {
		o.service = service
	}
	if o.region == "" {
		o.region = "us-east-1"
	}
	if o.at.IsZero() {
		o.at = signedAt
	}
	r := newRequest(t, req)
	sum := sha256.Sum256([]byte(req.body))
	hash := hex.EncodeToString(sum[:])
	if o.contentSHA {
		r.Header.Set("X-Amz-Content-Sha256", hash)
	}
	creds := aws.Credentials{AccessKeyID: o.keyID, SecretAccessKey: o.secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hash, o.service, o.region, o.at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	return onWire(t, r)
}

// newRequest builds a client request; req.url may hold escapes the client
// must keep (%2F in a path segment), as the SDK's requests do.
func newRequest(t testing.TB, req request) *http.Request {
	t.Helper()
	var body io.Reader
	if req.body != "" {
		body = strings.NewReader(req.body)
	}
	r, err := http.NewRequest(req.method, req.url, body)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range req.header {
		r.Header[name] = values
	}
	return r
}

// onWire writes r as a client would send it and parses it as the server
// does, so Host, the raw path and Content-Length are what a handler sees.
func onWire(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	parsed, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return parsed
}

var (
	post = request{method: "POST", url: "http://127.0.0.1:8081/latest/@connections/ab%3Dcd%2Fef%2Bgh", body: `{"hello":"world"}`}
	get  = request{method: "GET", url: "http://127.0.0.1:8081/@connections/ab%3Dcd%2Fef%2Bgh"}
	del  = request{method: "DELETE", url: "http://localhost:8081/latest/@connections/A%2BB%2FC%3D"}
)

func TestVerifyAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  request
		o    signOptions
	}{
		{name: "post with stage", req: post},
		{name: "get without stage", req: get},
		{name: "delete", req: del},
		{name: "other region", req: post, o: signOptions{region: "eu-west-3"}},
		{name: "content sha256 header", req: post, o: signOptions{contentSHA: true}},
		{name: "14 minutes old", req: post, o: signOptions{at: signedAt.Add(-14 * time.Minute)}},
		{name: "14 minutes ahead", req: post, o: signOptions{at: signedAt.Add(14 * time.Minute)}},
		{name: "query sorted after encoding", req: request{method: "GET", url: "http://127.0.0.1:8081/@connections/x?b=a-b&b=a%2Fb&a=sp%20ace&c=p%2Bq&empty"}},
		{name: "empty path", req: request{method: "GET", url: "http://127.0.0.1:8081"}},
		{name: "spaces and several values of a signed header", req: request{
			method: "POST", url: post.url, body: "x",
			header: http.Header{"X-Amz-Meta": {"  two  spaces  ", "second"}, "Content-Type": {"text/plain"}},
		}},
		{name: "body at the limit", req: request{method: "POST", url: post.url, body: strings.Repeat("b", 1024)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sign(t, tc.req, tc.o)
			if err := verifier().Verify(r); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			body, err := io.ReadAll(r.Body)
			if err != nil || string(body) != tc.req.body {
				t.Fatalf("body after Verify: %q, %v; want %q", body, err, tc.req.body)
			}
		})
	}
}

// TestVerifyQueryOrder reorders the query after signing: the canonical
// query sorts the pairs after encoding them, whatever order they came in.
func TestVerifyQueryOrder(t *testing.T) {
	r := sign(t, request{method: "GET", url: "http://127.0.0.1:8081/@connections/x?b=a-b&b=a%2Fb&a=sp%20ace&a-b=1"}, signOptions{})
	if r.URL.RawQuery != "a=sp%20ace&a-b=1&b=a%2Fb&b=a-b" {
		t.Fatalf("the SDK sent the query %q", r.URL.RawQuery)
	}
	r.URL.RawQuery = "b=a-b&a-b=1&a=sp%20ace&b=a%2Fb"
	if err := verifier().Verify(r); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		build  func(t *testing.T) *http.Request
		verify *sigv4.Verifier
		want   error
	}{
		{name: "unsigned", want: sigv4.ErrMissing, build: func(t *testing.T) *http.Request {
			return onWire(t, newRequest(t, post))
		}},
		{name: "wrong secret", want: sigv4.ErrMismatch, build: func(t *testing.T) *http.Request {
			return sign(t, post, signOptions{secret: "not the secret"})
		}},
		{name: "wrong key ID", want: sigv4.ErrUnknownKey, build: func(t *testing.T) *http.Request {
			return sign(t, post, signOptions{keyID: "AKIDOTHER"})
		}},
		{name: "wrong service", want: sigv4.ErrScope, build: func(t *testing.T) *http.Request {
			return sign(t, post, signOptions{service: "s3"})
		}},
		{name: "expired", want: sigv4.ErrExpired, build: func(t *testing.T) *http.Request {
			return sign(t, post, signOptions{at: signedAt.Add(-16 * time.Minute)})
		}},
		{name: "from the future", want: sigv4.ErrExpired, build: func(t *testing.T) *http.Request {
			return sign(t, post, signOptions{at: signedAt.Add(16 * time.Minute)})
		}},
		{name: "tampered body", want: sigv4.ErrMismatch, build: func(t *testing.T) *http.Request {
			r := sign(t, post, signOptions{})
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(post.body, "world", "WORLD", 1)))
			return r
		}},
		{name: "tampered body with content sha256", want: sigv4.ErrPayload, build: func(t *testing.T) *http.Request {
			r := sign(t, post, signOptions{contentSHA: true})
			r.Body = io.NopCloser(strings.NewReader(strings.Replace(post.body, "world", "WORLD", 1)))
			return r
		}},
		{name: "unsigned payload", want: sigv4.ErrPayload, build: func(t *testing.T) *http.Request {
			r := newRequest(t, post)
			r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
			if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, "UNSIGNED-PAYLOAD", service, "us-east-1", signedAt); err != nil {
				t.Fatal(err)
			}
			return onWire(t, r)
		}},
		{name: "another connection ID", want: sigv4.ErrMismatch, build: func(t *testing.T) *http.Request {
			r := sign(t, post, signOptions{})
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "%2F", "%2B", 1)
			r.URL.Path = strings.Replace(r.URL.Path, "/ef", "+ef", 1)
			return r
		}},
		{name: "another method", want: sigv4.ErrMismatch, build: func(t *testing.T) *http.Request {
			r := sign(t, get, signOptions{})
			r.Method = "DELETE"
			return r
		}},
		{name: "another host", want: sigv4.ErrMismatch, build: func(t *testing.T) *http.Request {
			r := sign(t, get, signOptions{})
			r.Host = "evil.example:8081"
			return r
		}},
		{name: "tampered signed header", want: sigv4.ErrMismatch, build: func(t *testing.T) *http.Request {
			r := sign(t, request{method: "POST", url: post.url, body: "x", header: http.Header{"Content-Type": {"text/plain"}}}, signOptions{})
			r.Header.Set("Content-Type", "application/json")
			return r
		}},
		{name: "body over the limit", want: sigv4.ErrBodyTooLarge, build: func(t *testing.T) *http.Request {
			return sign(t, request{method: "POST", url: post.url, body: strings.Repeat("b", 1025)}, signOptions{})
		}},
		{name: "chunked body over the limit", want: sigv4.ErrBodyTooLarge, build: func(t *testing.T) *http.Request {
			r := sign(t, post, signOptions{})
			r.ContentLength = -1
			r.Body = io.NopCloser(strings.NewReader(strings.Repeat("b", 4096)))
			return r
		}},
		{name: "date not signed", want: sigv4.ErrMalformed, build: func(t *testing.T) *http.Request {
			r := sign(t, get, signOptions{})
			auth := r.Header.Get("Authorization")
			r.Header.Set("Authorization", strings.Replace(auth, ";x-amz-date", "", 1))
			return r
		}},
		{name: "no X-Amz-Date", want: sigv4.ErrMalformed, build: func(t *testing.T) *http.Request {
			r := sign(t, get, signOptions{})
			r.Header.Del("X-Amz-Date")
			return r
		}},
		{name: "scope date is not X-Amz-Date's", want: sigv4.ErrScope, build: func(t *testing.T) *http.Request {
			r := sign(t, get, signOptions{})
			r.Header.Set("X-Amz-Date", signedAt.Add(-time.Minute).Format("20060102T150405Z"))
			auth := r.Header.Get("Authorization")
			r.Header.Set("Authorization", strings.Replace(auth, "/20261201/", "/20261130/", 1))
			return r
		}},
		{name: "two Authorization headers", want: sigv4.ErrMalformed, build: func(t *testing.T) *http.Request {
			r := sign(t, get, signOptions{})
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}},
		{name: "an empty verifier accepts nothing", verify: &sigv4.Verifier{Service: service, Now: func() time.Time { return signedAt }}, build: func(t *testing.T) *http.Request {
			return sign(t, get, signOptions{keyID: "", secret: ""})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.verify
			if v == nil {
				v = verifier()
			}
			err := v.Verify(tc.build(t))
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error reveals the secret: %v", err)
			}
		})
	}
}

func TestVerifyMalformedAuthorization(t *testing.T) {
	valid := sign(t, get, signOptions{}).Header.Get("Authorization")
	for _, header := range []string{
		"",
		"Basic dXNlcjpwYXNz",
		"AWS4-HMAC-SHA1 " + strings.TrimPrefix(valid, "AWS4-HMAC-SHA256 "),
		"AWS4-HMAC-SHA256",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/execute-api/aws4_request",
		strings.Replace(valid, "/aws4_request", "/aws5_request", 1),
		strings.Replace(valid, "Credential=AKIDEXAMPLE/", "Credential=AKIDEXAMPLE/extra/", 1),
		strings.Replace(valid, "SignedHeaders=", "SignedHeaders=Host;", 1),
		strings.Replace(valid, "SignedHeaders=", "SignedHeaders=;", 1),
		valid[:len(valid)-2],
		valid[:len(valid)-2] + "zz",
		strings.Replace(valid, ", ", " ", 1),
	} {
		r := sign(t, get, signOptions{})
		r.Header.Set("Authorization", header)
		err := verifier().Verify(r)
		if !errors.Is(err, sigv4.ErrMalformed) {
			t.Errorf("Authorization %q: %v, want ErrMalformed", header, err)
		}
	}
}

// FuzzVerify checks that no Authorization header makes Verify panic or
// accept a request it did not sign.
func FuzzVerify(f *testing.F) {
	valid := sign(f, get, signOptions{})
	seed := valid.Header.Get("Authorization")
	signature := seed[strings.LastIndex(seed, "=")+1:]
	f.Add(seed)
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
	f.Add("AWS4-HMAC-SHA256 ,,,===")
	f.Fuzz(func(t *testing.T, header string) {
		r := valid.Clone(context.Background())
		r.Header.Set("Authorization", header)
		// Only a spelling of the valid header can carry its signature.
		if err := verifier().Verify(r); err == nil && !strings.Contains(strings.ToLower(header), signature) {
			t.Fatalf("Verify accepted %q", header)
		}
	})
}
