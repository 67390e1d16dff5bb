package dynamolocal_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.uber.org/goleak"

	"github.com/monologue-go/monologue/internal/dynamolocal"
)

func TestMain(m *testing.M) {
	code := m.Run()
	dynamolocal.Stop()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func TestStartShared(t *testing.T) {
	first := dynamolocal.Start(t)
	if again := dynamolocal.Start(t); again != first {
		t.Fatalf("second Start = %q, want the shared %q", again, first)
	}
	client := dynamolocal.NewClient(first)
	if _, err := client.ListTables(context.Background(), &dynamodb.ListTablesInput{}); err != nil {
		t.Fatalf("ListTables: %v", err)
	}
}
