package awslambda_test

import (
	"os"
	"testing"

	"github.com/monologue-go/monologue/internal/dynamolocal"
)

func TestMain(m *testing.M) { os.Exit(dynamolocal.Run(m, dynamolocal.IdleHTTPClients...)) }
