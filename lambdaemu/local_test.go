package lambdaemu

import (
	"context"
	"strings"
	"testing"

	"github.com/monologue-go/monologue/relay/relaytest"
)

// TestStartLocalCredentialsGoTogether: half a key pair is refused before
// anything starts, rather than signing with a key the listener rejects.
func TestStartLocalCredentialsGoTogether(t *testing.T) {
	for _, opts := range []LocalOptions{{AccessKeyID: "AKIDLOCAL"}, {SecretAccessKey: "secret"}} {
		opts.ManagementEndpoint, opts.DynamoDBEndpoint = "http://127.0.0.1:1", "http://127.0.0.1:1"
		_, err := StartLocal(context.Background(), relaytest.NewRecorder(), opts)
		if err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("StartLocal(%+v) = %v, want the pair to go together", opts, err)
		}
	}
}
