package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/gorilla/websocket"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/gateway"
	"github.com/monologue-go/monologue/gateway/gatewaytest"
	"github.com/monologue-go/monologue/internal/dynamolocal"
	"github.com/monologue-go/monologue/internal/sqslocal"
	"github.com/monologue-go/monologue/lambdaemu"
)

// queuedAWS is the AWS path with the queued fan-out on this machine.
type queuedAWS struct {
	srv      *gatewaytest.Server
	table    string
	dynamo   string // DynamoDB Local endpoint
	sqs      *sqs.Client
	queueURL string
}

// startQueuedAWS starts a gateway whose events go to the awslambda handler
// in process, with every publish queued on goaws and the workers' budget
// budget calls/s. Its management listener is not throttled until the test
// calls srv.Gateway.SetCallbackRateLimit (subscribing goes through it too).
func startQueuedAWS(t *testing.T, budget float64, logger *slog.Logger) *queuedAWS {
	t.Helper()
	q := &queuedAWS{dynamo: dynamolocal.Start(t), table: fmt.Sprintf("fanout-%d", tables.Add(1))}
	sqsEndpoint := sqslocal.Start(t)
	q.sqs = sqslocal.NewClient(sqsEndpoint)
	q.srv = gatewaytest.NewUnstarted(t)
	opts := gatewayOptions(Config{})
	opts.Logger = logger
	opts.NewIntegration = func(gw *gateway.Gateway) (gateway.Integration, error) {
		return lambdaemu.StartLocal(context.Background(), gw, lambdaemu.LocalOptions{
			ManagementEndpoint: q.srv.AdminURL, Stage: "latest", DynamoDBEndpoint: q.dynamo,
			Table: q.table, PublishKey: testAPIKey, Logger: logger,
			SQSEndpoint: sqsEndpoint, FanoutInlineMax: -1, CallbackBudget: budget, WorkerConcurrency: 2,
		})
	}
	q.srv.Start(opts)
	out, err := q.sqs.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String(q.table + "-fanout")})
	if err != nil {
		t.Fatalf("fan-out queue: %v", err)
	}
	q.queueURL = aws.ToString(out.QueueUrl)
	return q
}

// members reads the channel's members from the table.
func (q *queuedAWS) members(t *testing.T, channel string) []string {
	t.Helper()
	store := awslambda.NewDynamoChannels(dynamolocal.NewClient(q.dynamo), awslambda.DynamoOptions{Table: q.table})
	var ids []string
	if err := store.Members(context.Background(), channel, func(page []string) error { ids = append(ids, page...); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// drained reports whether the fan-out queue holds no job, visible or not.
func (q *queuedAWS) drained(t *testing.T) bool {
	t.Helper()
	out, err := q.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out.Attributes {
		if v != "0" {
			return false
		}
	}
	return true
}

// member is a subscriber that counts the frames it receives.
type member struct {
	ws     *websocket.Conn
	id     string
	frames atomic.Int64
	done   chan struct{}
}

// dialMembers connects n clients, spread over source addresses 127.0.0.2…,
// each learning its ID and subscribing to channel, then reading frames.
func dialMembers(t *testing.T, wsURL, channel string, n int) []*member {
	t.Helper()
	members := make([]*member, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range members {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			m, err := dialMember(wsURL, channel, i)
			if err != nil {
				errs <- err
				return
			}
			members[i] = m
		}()
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, m := range members {
			if m != nil {
				m.ws.Close()
				<-m.done
			}
		}
	})
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return members
}

func dialMember(wsURL, channel string, i int) (*member, error) {
	local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(i/60000), byte(2+i%250))}
	dialer := websocket.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: local}).DialContext,
		HandshakeTimeout: 10 * time.Second,
	}
	ws, _, err := dialer.Dial(wsURL, http.Header{"X-Api-Key": {testAPIKey}})
	if err != nil {
		return nil, fmt.Errorf("member %d: dial: %w", i, err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	m := &member{ws: ws, done: make(chan struct{})}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("whoami")); err != nil {
		return nil, fmt.Errorf("member %d: %w", i, err)
	}
	_, id, err := ws.ReadMessage()
	if err != nil {
		return nil, fmt.Errorf("member %d: whoami: %w", i, err)
	}
	m.id = string(id)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"action":"subscribe","channel":"`+channel+`"}`)); err != nil {
		return nil, fmt.Errorf("member %d: %w", i, err)
	}
	if _, reply, err := ws.ReadMessage(); err != nil || !strings.Contains(string(reply), `"subscribed"`) {
		return nil, fmt.Errorf("member %d: subscribe: %s, %v", i, reply, err)
	}
	_ = ws.SetReadDeadline(time.Time{})
	go func() {
		defer close(m.done)
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			m.frames.Add(1)
		}
	}()
	return m, nil
}

// publishHTTP publishes payload to channel through the HTTP publish event.
func publishHTTP(t *testing.T, q *queuedAWS, channel, payload string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, q.srv.PublicURL+"/channels/"+channel, strings.NewReader(payload))
	req.Header.Set("X-Api-Key", testAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("publish: HTTP %d", resp.StatusCode)
	}
}

// TestQueuedFanoutThrottled: the management listener answers 429 above 300
// requests/s, the workers' budget is 1,200/s, and a fifth of the members
// have gone (410). The workers slow down to the rate, every live member
// receives the message once, the gone members are deleted and no others,
// and the queue drains: nothing is retried forever.
func TestQueuedFanoutThrottled(t *testing.T) {
	q := startQueuedAWS(t, 1200, errorLogger)
	members := dialMembers(t, q.srv.URL, "throttled", 500)
	var live, gone []string
	for i, m := range members {
		if i%5 == 0 {
			gone = append(gone, m.id)
			m.ws.Close() // the gateway forgets it: 410 from now on
			<-m.done
		} else {
			live = append(live, m.id)
		}
	}
	// Closing runs $disconnect, which deletes the memberships; put the gone
	// ones back, as subscriptions whose disconnect was missed.
	store := awslambda.NewDynamoChannels(dynamolocal.NewClient(q.dynamo), awslambda.DynamoOptions{Table: q.table})
	waitUntil(t, "the disconnects", 10*time.Second, func() bool { return len(q.members(t, "throttled")) == len(live) })
	for _, id := range gone {
		if err := store.Subscribe(context.Background(), "throttled", id); err != nil {
			t.Fatal(err)
		}
	}
	q.srv.Gateway.SetCallbackRateLimit(300)
	start := time.Now()
	publishHTTP(t, q, "throttled", `{"n":1}`)
	waitUntil(t, "every live member to receive the message", 30*time.Second, func() bool {
		for i, m := range members {
			if i%5 != 0 && m.frames.Load() == 0 {
				return false
			}
		}
		return true
	})
	took := time.Since(start)
	waitUntil(t, "the queue to drain", 30*time.Second, func() bool { return q.drained(t) })
	for i, m := range members {
		if i%5 != 0 {
			if n := m.frames.Load(); n != 1 {
				t.Fatalf("member %d received %d frames, want 1", i, n)
			}
		}
	}
	slices.Sort(live)
	if got := q.members(t, "throttled"); !slices.Equal(got, live) {
		t.Fatalf("members after the publish: %d, want the %d live ones (gone ones deleted, no others)", len(got), len(live))
	}
	// 500 posts (400 deliveries, 100 410s) at 300/s, with a burst of 30,
	// take at least 1.57 s.
	t.Logf("500 members (100 gone) at 300 requests/s: last delivery after %v, %.0f posts/s", took, 500/took.Seconds())
	if took < 1500*time.Millisecond {
		t.Fatalf("delivered in %v: faster than the throttle allows", took)
	}
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
