package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestCallbackRateLimit: past CallbackRateLimit requests per second, the
// management listener answers 429 LimitExceededException, and lets the
// rate through.
func TestCallbackRateLimit(t *testing.T) {
	s := start(t, gateway.Options{CallbackRateLimit: 200})
	c := s.dial(t)
	id := c.whoami()
	client := &http.Client{}
	ok, limited := 0, 0
	start := time.Now()
	for time.Since(start) < 500*time.Millisecond {
		resp, err := client.Post(s.admin+"/@connections/"+url.PathEscape(id), "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			if got := resp.Header.Get("x-amzn-ErrorType"); got != "LimitExceededException" {
				t.Fatalf("429 with error type %q", got)
			}
			limited++
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	elapsed := time.Since(start).Seconds()
	if limit := 200*elapsed + 20 + 1; float64(ok) > limit || float64(ok) < 200*elapsed*0.7 {
		t.Fatalf("%d posts accepted in %.2fs at 200/s (burst 20), want about %.0f", ok, elapsed, 200*elapsed)
	}
	if limited == 0 {
		t.Fatal("no request was throttled")
	}
}
