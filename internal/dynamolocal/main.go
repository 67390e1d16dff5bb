package dynamolocal

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// IdleHTTPClients are the goroutines of idle keep-alive connections that
// AWS SDK clients leave behind; pass it to Run where SDK clients are used.
var IdleHTTPClients = []goleak.Option{
	goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
}

// Run is the body of a TestMain in a package that may use DynamoDB Local:
// it runs the tests, stops DynamoDB Local, then fails the run when
// goroutines leaked (ignoring what opts ignore). It returns the exit code.
func Run(m *testing.M, opts ...goleak.Option) int {
	code := m.Run()
	Stop()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	return code
}
