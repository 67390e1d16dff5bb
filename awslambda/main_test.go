package awslambda_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/internal/dynamolocal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynamolocal.Stop()
	if code == 0 {
		if err := goleak.Find(leakOptions()...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// leakOptions ignores the idle keep-alive connections of the SDK clients.
func leakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	}
}
