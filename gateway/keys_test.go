package gateway_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/monologue-go/monologue/gateway"
)

// TestTenantsByWholeKey: two keys whose SHA-256 digests share their first
// 32 bits were once one tenant. They must be two, in direct messages and in
// HTTP publish, and the logs must name them by labels that reveal nothing
// of either key.
func TestTenantsByWholeKey(t *testing.T) {
	const k1, k2 = "key-8337", "key-15029"
	d1, d2 := sha256.Sum256([]byte(k1)), sha256.Sum256([]byte(k2))
	if hex.EncodeToString(d1[:4]) != hex.EncodeToString(d2[:4]) {
		t.Fatalf("the test's keys no longer share a 32-bit digest prefix")
	}
	s := start(t, gateway.Options{APIKeys: []string{k1, k2}})
	a := s.dialURL(t, s.url, http.Header{"X-Api-Key": {k1}})
	b := s.dialURL(t, s.url, http.Header{"X-Api-Key": {k2}})
	idA, idB := a.whoami(), b.whoami()

	a.send(fmt.Sprintf(`{"to":%q,"payload":1}`, idB))
	if code := errorCode(a.readJSON()); code != "forbidden" {
		t.Fatalf("message across the two keys: %q, want forbidden", code)
	}

	b.send(`{"action":"subscribe","channel":"news"}`)
	if got := b.read(); got != `{"action":"subscribed","channel":"news"}` {
		t.Fatalf("subscribe: %q", got)
	}
	req, _ := http.NewRequest(http.MethodPost, s.http+"/channels/news", strings.NewReader(`"from k1"`))
	req.Header.Set("X-Api-Key", k1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("publish: HTTP %d", resp.StatusCode)
	}
	// b must not have received k1's publish: the next frame is whoami's answer.
	if got := b.whoami(); got != idB {
		t.Fatalf("b received %q: a publish crossed tenants", got)
	}

	infoA, _ := s.gw.Connection(idA)
	infoB, _ := s.gw.Connection(idB)
	if infoA.TenantLabel != "key-1" || infoB.TenantLabel != "key-2" {
		t.Fatalf("labels %q and %q, want key-1 and key-2", infoA.TenantLabel, infoB.TenantLabel)
	}
	a.close()
	eventually(t, 5*time.Second, "a's close logged", func() bool { return strings.Contains(s.logs.String(), "connection closed") })
	logs := s.logs.String()
	for _, secret := range []string{k1, k2, hex.EncodeToString(d1[:4]), hex.EncodeToString(d1[:]), hex.EncodeToString(d2[:])} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the logs contain %q, which reveals a key:\n%s", secret, logs)
		}
	}
	if !strings.Contains(logs, "tenant=key-1") {
		t.Fatalf("the logs do not name the tenant by its label:\n%s", logs)
	}
}
