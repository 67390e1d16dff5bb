package awslambda_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/internal/dynamolocal"
)

// managementAPI is a fake of API Gateway's @connections API: it records the
// frames posted to the connections it knows and answers 410 GoneException
// for others, or a chosen error for some.
type managementAPI struct {
	server *httptest.Server
	stage  string

	mu       sync.Mutex
	frames   map[string][]string // connection ID -> frames, for live connections
	fail     map[string]int      // connection ID -> status to answer
	attempts map[string]int      // connection ID -> posts received
}

func newManagementAPI(t testing.TB, connectionIDs ...string) *managementAPI {
	m := &managementAPI{stage: "latest", frames: make(map[string][]string), fail: make(map[string]int), attempts: make(map[string]int)}
	for _, id := range connectionIDs {
		m.frames[id] = nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{stage}/@connections/{id}", m.post)
	m.server = httptest.NewServer(mux)
	t.Cleanup(m.server.Close)
	return m
}

// Endpoint is the management endpoint with its stage.
func (m *managementAPI) Endpoint() string { return m.server.URL + "/" + m.stage }

var errorTypes = map[int]string{
	http.StatusGone:                  "GoneException",
	http.StatusRequestEntityTooLarge: "PayloadTooLargeException",
	http.StatusTooManyRequests:       "LimitExceededException",
	http.StatusForbidden:             "ForbiddenException",
}

func (m *managementAPI) post(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	id := r.PathValue("id")
	m.mu.Lock()
	m.attempts[id]++
	status := m.fail[id]
	_, live := m.frames[id]
	if status == 0 && !live {
		status = http.StatusGone
	}
	if status == 0 {
		m.frames[id] = append(m.frames[id], string(data))
	}
	m.mu.Unlock()
	if status != 0 {
		w.Header().Set("x-amzn-ErrorType", errorTypes[status])
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"message":%q}`, errorTypes[status])
	}
}

// Connect makes id live.
func (m *managementAPI) Connect(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.frames[id]; !ok {
		m.frames[id] = nil
	}
}

// Fail makes every post to id answer status.
func (m *managementAPI) Fail(id string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail[id] = status
}

// Attempts returns how many posts to id were received.
func (m *managementAPI) Attempts(id string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.attempts[id]
}

// Take returns and clears the frames posted to id.
func (m *managementAPI) Take(id string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	frames := m.frames[id]
	if _, ok := m.frames[id]; ok {
		m.frames[id] = nil
	}
	return frames
}

// callCounter is an SDK HTTP client that counts DynamoDB operations by
// their X-Amz-Target.
type callCounter struct {
	next  *http.Client
	mu    sync.Mutex
	calls map[string]int
}

func newCallCounter() *callCounter {
	return &callCounter{next: &http.Client{}, calls: make(map[string]int)}
}

func (c *callCounter) Do(r *http.Request) (*http.Response, error) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	c.mu.Lock()
	c.calls[op]++
	c.mu.Unlock()
	return c.next.Do(r)
}

// Take returns and resets the counts.
func (c *callCounter) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = make(map[string]int)
	return calls
}

var tableSequence atomic.Int64

// newTable creates a fresh channels table on the shared DynamoDB Local and
// returns a client for it that counts its calls.
func newTable(t testing.TB) (*dynamodb.Client, string, *callCounter) {
	t.Helper()
	endpoint := dynamolocal.Start(t)
	name := fmt.Sprintf("channels-%d", tableSequence.Add(1))
	if err := awslambda.CreateTable(context.Background(), dynamolocal.NewClient(endpoint), name); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	counter := newCallCounter()
	client := dynamodb.New(dynamodb.Options{
		Region:                          dynamolocal.Region,
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true,
		HTTPClient:                      counter,
	})
	return client, name, counter
}

// localAWS is an aws.Config for the fakes: a region and static credentials.
func localAWS() aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
}

func dynamolocalClient(t testing.TB) *dynamodb.Client {
	return dynamolocal.NewClient(dynamolocal.Start(t))
}
