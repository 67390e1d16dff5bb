package awslambda_test

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/monologue-go/monologue/awslambda"
)

func TestHTTPPublish(t *testing.T) {
	client, table, calls := newTable(t)
	f := newFixtureOn(t, client, table, calls)
	f.subscribe(t, "news", connA)
	f.subscribe(t, "a b/c", connA)
	base := func() events.APIGatewayV2HTTPRequest {
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(readEvent(t, "http-publish.json"), &req); err != nil {
			t.Fatal(err)
		}
		return req
	}
	tests := []struct {
		name   string
		change func(*events.APIGatewayV2HTTPRequest)
		status int
		body   string
		frame  string // delivered to A; "" for none
	}{
		{"ok", nil, 200, `{"message":"published"}`, `{"channel":"news","payload":{"headline":"server news"}}`},
		{"text body becomes a string", func(r *events.APIGatewayV2HTTPRequest) { r.Body = "plain text" },
			200, `{"message":"published"}`, `{"channel":"news","payload":"plain text"}`},
		{"base64 body", func(r *events.APIGatewayV2HTTPRequest) {
			r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte(`[1,2]`)), true
		}, 200, `{"message":"published"}`, `{"channel":"news","payload":[1,2]}`},
		{"header name in any case", func(r *events.APIGatewayV2HTTPRequest) {
			delete(r.Headers, "x-api-key")
			r.Headers["X-Api-Key"] = "publish-key"
		}, 200, `{"message":"published"}`, `{"channel":"news","payload":{"headline":"server news"}}`},
		{"default route with escaped path", func(r *events.APIGatewayV2HTTPRequest) {
			r.RouteKey, r.PathParameters, r.RawPath = "$default", nil, "/channels/a%20b%2Fc"
		}, 200, `{"message":"published"}`, `{"channel":"a b/c","payload":{"headline":"server news"}}`},
		{"missing key", func(r *events.APIGatewayV2HTTPRequest) { delete(r.Headers, "x-api-key") },
			403, `{"message":"Forbidden"}`, ""},
		{"wrong key", func(r *events.APIGatewayV2HTTPRequest) { r.Headers["x-api-key"] = "publish-kez" },
			403, `{"message":"Forbidden"}`, ""},
		{"bad base64", func(r *events.APIGatewayV2HTTPRequest) { r.Body, r.IsBase64Encoded = "!!", true },
			400, `{"message":"body is not valid base64"}`, ""},
		// A text body arrives as JSON, which cannot carry invalid UTF-8;
		// a base64 one can.
		{"base64 body not UTF-8", func(r *events.APIGatewayV2HTTPRequest) {
			r.Body, r.IsBase64Encoded = base64.StdEncoding.EncodeToString([]byte("\xc3\x28")), true
		}, 400, `{"message":"body is not valid UTF-8"}`, ""},
		{"channel too long", func(r *events.APIGatewayV2HTTPRequest) { r.PathParameters["channel"] = strings.Repeat("x", 257) },
			400, `{"message":"channel must be 1 to 256 bytes"}`, ""},
		{"too large", func(r *events.APIGatewayV2HTTPRequest) { r.Body = `"` + strings.Repeat("x", 128<<10) + `"` },
			413, `{"message":"frame to deliver exceeds 131072 bytes"}`, ""},
		{"other route", func(r *events.APIGatewayV2HTTPRequest) { r.RouteKey, r.RawPath = "GET /channels/{channel}", "/x" },
			404, `{"message":"Not Found"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base()
			if tt.change != nil {
				tt.change(&req)
			}
			data, _ := json.Marshal(req)
			out, err := lambda.NewHandler(f.dispatch).Invoke(invocationContext(), data)
			if err != nil {
				t.Fatal(err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.Body != tt.body || resp.Headers["content-type"] != "application/json" {
				t.Fatalf("response = %d %s %v, want %d %s", resp.StatusCode, resp.Body, resp.Headers, tt.status, tt.body)
			}
			if errorType := resp.Headers["x-amzn-errortype"]; (tt.status != 200) != (errorType != "") {
				t.Fatalf("x-amzn-errortype = %q for status %d", errorType, tt.status)
			}
			var want []string
			if tt.frame != "" {
				want = []string{tt.frame}
			}
			if got := f.mgmt.Take(connA); !slices.Equal(got, want) {
				t.Fatalf("frames to A = %q, want %q", got, want)
			}
		})
	}
	if got := f.mgmt.Take(connA); len(got) != 0 {
		t.Fatalf("leftover frames %q", got)
	}
}

func TestHTTPPublishWithoutKeyIsRefused(t *testing.T) {
	client, table, _ := newTable(t)
	mgmt := newManagementAPI(t, connA)
	d, err := awslambda.New(awslambda.Config{AWS: localAWS(), Table: table, DynamoDB: client, ManagementEndpoint: mgmt.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	out, err := d.Invoke(invocationContext(), readEvent(t, "http-publish.json"))
	if err != nil || !strings.Contains(string(out), `"statusCode":403`) {
		t.Fatalf("Invoke = %s, %v; want 403 when no publish key is configured", out, err)
	}
}
