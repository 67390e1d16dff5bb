package awslambda_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/internal/dynamolocal"
	"github.com/monologue-go/monologue/internal/sqslocal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynamolocal.Stop()
	sqslocal.Stop()
	if code == 0 {
		if err := goleak.Find(dynamolocal.IdleHTTPClients...); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}
