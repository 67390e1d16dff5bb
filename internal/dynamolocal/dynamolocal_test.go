package dynamolocal_test

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/monologue-go/monologue/internal/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.Run(m, dynamolocal.IdleHTTPClients...)) }

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
