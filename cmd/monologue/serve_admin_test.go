package main

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/gorilla/websocket"
)

const (
	testAdminKeyID  = "AKIDSERVETEST"
	testAdminSecret = "serve/test+secret="
)

// TestServeRefusesExposedAdminWithoutCredentials: a management listener on
// every interface, or on any address but loopback, needs credentials.
func TestServeRefusesExposedAdminWithoutCredentials(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run(addr, func(t *testing.T) {
			err := runServe(context.Background(), []string{"--addr", "127.0.0.1:0", "--admin-addr", addr, "--api-key", "k"}, io.Discard, io.Discard)
			if err == nil {
				t.Fatal("serve started")
			}
			for _, want := range []string{"not a loopback address", "--admin-access-key-id", "--admin-secret-access-key", envAdminKeyID, envAdminSecret, "127.0.0.1:8081"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
		})
	}
}

func TestServeAdminCredentialsGoTogether(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "key ID flag", args: []string{"--admin-access-key-id", testAdminKeyID}},
		{name: "secret flag", args: []string{"--admin-secret-access-key", testAdminSecret}},
		{name: "key ID variable", env: map[string]string{envAdminKeyID: testAdminKeyID}},
		{name: "key ID flag and variable", args: []string{"--admin-access-key-id", testAdminKeyID}, env: map[string]string{envAdminKeyID: "AKIDOTHER"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for name, value := range tc.env {
				t.Setenv(name, value)
			}
			args := append([]string{"--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--api-key", "k"}, tc.args...)
			err := runServe(context.Background(), args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), "go together") {
				t.Errorf("%v, want the pair to go together", err)
			}
		})
	}
}

// TestServeAdminCredentials starts serve with credentials, from flags on
// loopback and from the environment on every interface: the real SDK client
// with the pair reaches a connection; unsigned and wrongly signed requests
// get 403 ForbiddenException; health and metrics stay open.
func TestServeAdminCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  bool
	}{
		{name: "flags, loopback", args: []string{"--admin-addr", "127.0.0.1:0", "--admin-access-key-id", testAdminKeyID, "--admin-secret-access-key", testAdminSecret}},
		{name: "environment, every interface", args: []string{"--admin-addr", "0.0.0.0:0"}, env: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env {
				t.Setenv(envAdminKeyID, testAdminKeyID)
				t.Setenv(envAdminSecret, testAdminSecret)
			}
			lines, stop := startServe(t, append([]string{"--addr", "127.0.0.1:0", "--api-key", "k", "--log-level", "warn"}, tc.args...)...)
			if !strings.Contains(lines["management"], "with access key ID "+testAdminKeyID) || strings.Contains(strings.Join(slices.Collect(maps.Values(lines)), "\n"), testAdminSecret) {
				t.Errorf("stdout lines %q: want the key ID named and the secret not", lines)
			}
			adminURL, _, _ := strings.Cut(lines["admin"], "/@connections/")

			ws, _, err := websocket.DefaultDialer.Dial(lines["listening"], http.Header{"X-Api-Key": {"k"}})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Close()
			_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
				t.Fatal(err)
			}
			_, id, err := ws.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}

			ctx := context.Background()
			post := func(keyID, secret, data string) error {
				_, err := adminClient(adminURL+"/latest", keyID, secret).PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: aws.String(string(id)), Data: []byte(data),
				})
				return err
			}
			if err := post(testAdminKeyID, "wrong secret", "forged"); !isForbidden(err) {
				t.Errorf("post with a wrong secret: %v, want ForbiddenException", err)
			}
			if err := post("AKIDWRONG", testAdminSecret, "forged"); !isForbidden(err) {
				t.Errorf("post with a wrong key ID: %v, want ForbiddenException", err)
			}
			status, header := plainRequest(t, "POST", adminURL+"/@connections/"+url.PathEscape(string(id)), nil)
			if status != http.StatusForbidden || header.Get("x-amzn-ErrorType") != "ForbiddenException" {
				t.Errorf("unsigned post: %d %q, want 403 ForbiddenException", status, header.Get("x-amzn-ErrorType"))
			}
			if err := post(testAdminKeyID, testAdminSecret, "signed"); err != nil {
				t.Fatalf("signed post: %v", err)
			}
			if _, got, err := ws.ReadMessage(); err != nil || string(got) != "signed" {
				t.Fatalf("first frame %q, %v; want only the signed post", got, err)
			}
			for _, path := range []string{"/healthz", "/metrics"} {
				if status, _ := plainRequest(t, "GET", adminURL+path, nil); status != http.StatusOK {
					t.Errorf("GET %s unsigned: %d", path, status)
				}
			}
			ws.Close()
			if err := stop(); err != nil {
				t.Fatalf("runServe: %v", err)
			}
		})
	}
}

// TestServeAdminHost: the management listener answers to its own address
// and to --admin-host names, and to no other Host.
func TestServeAdminHost(t *testing.T) {
	lines, stop := startServe(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--api-key", "k", "--log-level", "error",
		"--admin-host", "monologue-admin.internal")
	adminURL, _, _ := strings.Cut(lines["admin"], "/@connections/")
	u, _ := url.Parse(adminURL)
	for host, want := range map[string]int{
		u.Host:                                      http.StatusOK,
		"localhost:" + u.Port():                     http.StatusOK,
		"monologue-admin.internal:" + u.Port():      http.StatusOK,
		"rebound.attacker.example:" + u.Port():      http.StatusForbidden,
		"monologue-admin.internal.evil:" + u.Port(): http.StatusForbidden,
	} {
		if status, _ := plainRequest(t, "GET", adminURL+"/metrics", func(r *http.Request) { r.Host = host }); status != want {
			t.Errorf("Host %q: %d, want %d", host, status, want)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("runServe: %v", err)
	}
}

// adminClient is the real AWS SDK management API client with a static key.
func adminClient(endpoint, keyID, secret string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-west-2",
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:   &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second},
		Retryer:      aws.NopRetryer{},
	})
}

func isForbidden(err error) bool {
	_, ok := errors.AsType[*types.ForbiddenException](err)
	return ok
}

// plainRequest sends an unsigned request, changed by edit when not nil.
func plainRequest(t *testing.T, method, target string, edit func(*http.Request)) (int, http.Header) {
	t.Helper()
	r, err := http.NewRequest(method, target, strings.NewReader("plain"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}
