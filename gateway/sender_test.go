package gateway_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
)

// senderLimit is the frame limit of the conformance servers: small, so
// that filling a stalled connection's queue is quick.
const senderLimit = 8 << 10

// senderHarness starts a gateway with two API keys (two tenants) and
// returns the relaytest harness for sender, which must reach that gateway's
// connections.
func senderHarness(t *testing.T, sender func(s *server) relay.Sender, tenants bool) relaytest.SenderHarness {
	keys := []string{"sender-key-0", "sender-key-1"}
	s := start(t, gateway.Options{APIKeys: keys, MaxMessageSize: senderLimit, SendQueueBytes: 64 << 10})
	dial := func(t *testing.T, tenant int) (*websocket.Conn, relaytest.Peer) {
		t.Helper()
		c := s.dialURL(t, s.url, http.Header{"X-Api-Key": {keys[tenant]}})
		c.send("whoami")
		id := c.read()
		label, ok := s.gw.TenantOf(id)
		if !ok {
			t.Fatalf("connection %s unknown to its gateway", id)
		}
		return c.ws, relaytest.Peer{
			ID:     id,
			Tenant: label,
			Next: func(t *testing.T) []byte {
				t.Helper()
				_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, data, err := c.ws.ReadMessage()
				if err != nil {
					t.Fatalf("read from %s: %v", id, err)
				}
				return data
			},
			Close: func(t *testing.T) {
				t.Helper()
				c.close()
				eventually(t, 5*time.Second, "connection "+strconv.Quote(id)+" forgotten", func() bool {
					_, ok := s.gw.TenantOf(id)
					return !ok
				})
			},
		}
	}
	return relaytest.SenderHarness{
		Sender: sender(s),
		Connect: func(t *testing.T, tenant int) relaytest.Peer {
			_, p := dial(t, tenant)
			return p
		},
		Stall: func(t *testing.T) relaytest.Peer {
			_, p := dial(t, 0) // and never read again
			return p
		},
		MaxMessageSize: senderLimit,
		Tenants:        tenants,
	}
}

// TestSenderConformance runs relaytest's Sender suite against both Senders
// that reach a gateway's connections: the gateway's own connection table,
// and API Gateway's management API client (the Lambda's Sender) posting
// through the gateway's @connections listener.
func TestSenderConformance(t *testing.T) {
	t.Run("Gateway", func(t *testing.T) {
		relaytest.TestSender(t, func(t *testing.T) relaytest.SenderHarness {
			return senderHarness(t, func(s *server) relay.Sender { return s.gw }, true)
		})
	})
	t.Run("ManagementAPI", func(t *testing.T) {
		relaytest.TestSender(t, func(t *testing.T) relaytest.SenderHarness {
			return senderHarness(t, func(s *server) relay.Sender {
				cfg := aws.Config{
					Region:      "us-east-1",
					Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
					HTTPClient:  &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
				}
				return awslambda.NewSender(cfg, awslambda.SenderOptions{Endpoint: s.admin + "/latest"})
			}, false)
		})
	})
}
