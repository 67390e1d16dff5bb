package awslambda_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/relay"
)

// Connection IDs of the golden events: A sends every event.
const (
	connA    = "AtuLLemUPHcCItg="
	connB    = "BtuLLemUPHcCItg="
	connC    = "CtuLLemUPHcCItg="
	connGone = "ZtuLLemUPHcCItg="
)

// fixture is a function wired to a fresh table and a fake management API
// on which A, B and C are connected.
type fixture struct {
	dispatch *awslambda.Dispatch
	store    *awslambda.DynamoChannels
	names    *awslambda.DynamoNames
	mgmt     *managementAPI
	calls    *callCounter
	logs     *bytes.Buffer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	client, table, calls := newTable(t)
	return newFixtureOn(t, client, table, calls)
}

func newFixtureOn(t testing.TB, client *dynamodb.Client, table string, calls *callCounter) *fixture {
	t.Helper()
	mgmt := newManagementAPI(t, connA, connB, connC)
	logs := &bytes.Buffer{}
	d, err := awslambda.New(awslambda.Config{
		AWS:                localAWS(),
		Table:              table,
		DynamoDB:           client,
		PublishKey:         "publish-key",
		ManagementEndpoint: mgmt.Endpoint(),
		Logger:             slog.New(awslambda.NewLogHandler(slog.NewJSONHandler(logs, nil))),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{
		dispatch: d,
		store:    awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table}),
		names:    awslambda.NewDynamoNames(client, awslambda.DynamoOptions{Table: table}),
		mgmt:     mgmt,
		calls:    calls,
		logs:     logs,
	}
}

func (f *fixture) subscribe(t testing.TB, channel string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := f.store.Subscribe(context.Background(), channel, id); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) claim(t testing.TB, name string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := f.names.Claim(context.Background(), relay.Claim{Name: name, ConnectionID: id}); err != nil {
			t.Fatal(err)
		}
	}
}

func readEvent(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// invocationContext is the context Lambda gives an invocation.
func invocationContext() context.Context {
	return lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{
		AwsRequestID:       "c6af9ac6-7b61-11e6-9a41-93e812345678",
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:monologue",
	})
}

// TestGoldenEvents feeds each golden API Gateway event through the Lambda
// handler, both as raw JSON (Dispatch) and typed (Handler.Serve), and checks
// the frames posted to each connection and the DynamoDB calls made.
func TestGoldenEvents(t *testing.T) {
	tests := []struct {
		name    string // "": the event's
		event   string
		before  func(t testing.TB, f *fixture)
		frames  map[string][]string // posted per connection; others get none
		calls   map[string]int      // DynamoDB calls by operation
		members []string            // of "news" afterwards, when not nil
	}{
		{event: "ws-connect.json"},
		{
			event:  "ws-disconnect.json",
			before: func(t testing.TB, f *fixture) { f.subscribe(t, "news", connA, connB); f.subscribe(t, "sports", connA) },
			// The connection's channels (one Query of the index, one
			// BatchWriteItem), its presence subscriptions and its names (one
			// Query of the index each, nothing to delete), and the watchers
			// of each of its 2 channels, told it left (one Query each).
			calls:   map[string]int{"Query": 5, "BatchWriteItem": 1},
			members: []string{connB},
		},
		{event: "ws-default-whoami.json", frames: map[string][]string{connA: {connA}}},
		{event: "ws-default-binary.json", frames: map[string][]string{connA: {connA}}},
		{
			event:  "ws-default-direct.json",
			frames: map[string][]string{connB: {`{"to":"BtuLLemUPHcCItg=","from":"AtuLLemUPHcCItg=","payload":{"type":"REQ","data":{"token":"t1","name":"add","args":[1,2]}}}`}},
		},
		{
			event:  "ws-default-unknown-action.json",
			frames: map[string][]string{connA: {`{"error":{"code":"unknown_action","message":"unknown action \"Loopback\""},"id":7}`}},
		},
		{
			event:  "ws-loopback.json",
			frames: map[string][]string{connA: {`{"to":"AtuLLemUPHcCItg=","from":"AtuLLemUPHcCItg=","payload":{"n":1,"s":"héllo"}}`}},
		},
		{
			event:  "ws-sendmessage.json",
			frames: map[string][]string{connB: {`{"to":"BtuLLemUPHcCItg=","from":"AtuLLemUPHcCItg=","payload":[1,"two",{"three":3}]}`}},
		},
		{
			event:  "ws-sendmessage-gone.json",
			frames: map[string][]string{connA: {`{"error":{"code":"gone","message":"no connection \"ZtuLLemUPHcCItg=\""},"id":"m1","to":"ZtuLLemUPHcCItg="}`}},
		},
		{event: "ws-send.json", frames: map[string][]string{connA: {`{"message":"hi"}`}}},
		{
			event:  "ws-subscribe.json",
			frames: map[string][]string{connA: {`{"action":"subscribed","channel":"news","id":1}`}},
			// The channel's bucket count and the membership, and the
			// channel's watchers, told it joined.
			calls:   map[string]int{"GetItem": 1, "PutItem": 1, "Query": 1},
			members: []string{connA},
		},
		{
			event:  "ws-unsubscribe.json",
			before: func(t testing.TB, f *fixture) { f.subscribe(t, "news", connA, connB) },
			frames: map[string][]string{connA: {`{"action":"unsubscribed","channel":"news","id":2}`}},
			// The channel's bucket count, the membership and the presence
			// subscription, if any; the channel's watchers, told it left.
			calls:   map[string]int{"GetItem": 1, "DeleteItem": 2, "Query": 1},
			members: []string{connB},
		},
		{
			event:  "ws-publish.json",
			before: func(t testing.TB, f *fixture) { f.subscribe(t, "news", connA, connB, connC) },
			frames: map[string][]string{
				connB: {`{"channel":"news","from":"AtuLLemUPHcCItg=","payload":{"headline":"monologue 1.0"}}`},
				connC: {`{"channel":"news","from":"AtuLLemUPHcCItg=","payload":{"headline":"monologue 1.0"}}`},
			},
			calls:   map[string]int{"Query": 1},
			members: []string{connA, connB, connC},
		},
		{
			// A member that has gone (410) is unsubscribed: the channel's
			// bucket count and one DeleteItem more.
			name:   "ws-publish-gone-member",
			event:  "ws-publish.json",
			before: func(t testing.TB, f *fixture) { f.subscribe(t, "news", connA, connB, connGone) },
			frames: map[string][]string{
				connB: {`{"channel":"news","from":"AtuLLemUPHcCItg=","payload":{"headline":"monologue 1.0"}}`},
			},
			calls:   map[string]int{"Query": 1, "GetItem": 1, "DeleteItem": 1},
			members: []string{connA, connB},
		},
		{
			event:  "ws-claim.json",
			frames: map[string][]string{connA: {`{"action":"claimed","name":"billing","id":3}`}},
			// The connection's names, for the limit (one Query of the
			// index), the name's version, and one transaction.
			calls: map[string]int{"Query": 1, "GetItem": 1, "TransactWriteItems": 1},
		},
		{
			event:  "ws-claim-exclusive.json",
			before: func(t testing.TB, f *fixture) { f.claim(t, "billing", connB) },
			frames: map[string][]string{
				connA: {`{"action":"claimed","name":"billing","id":4}`},
				connB: {`{"action":"released","name":"billing"}`},
			},
			// As a claim, and the holders, whose items the transaction deletes.
			calls: map[string]int{"Query": 2, "GetItem": 1, "TransactWriteItems": 1},
		},
		{
			// A message to a name costs one read, whichever holder it reaches.
			event:  "ws-default-name.json",
			before: func(t testing.TB, f *fixture) { f.claim(t, "billing", connB) },
			frames: map[string][]string{connB: {`{"to":"BtuLLemUPHcCItg=","from":"AtuLLemUPHcCItg=","via":"@billing","payload":{"n":1}}`}},
			calls:  map[string]int{"Query": 1},
		},
		{
			event:  "ws-presence.json",
			before: func(t testing.TB, f *fixture) { f.subscribe(t, "news", connA, connB) },
			frames: map[string][]string{connA: {`{"action":"presence","channel":"news","count":2,"members":["AtuLLemUPHcCItg=","BtuLLemUPHcCItg="],"id":5}`}},
			calls:  map[string]int{"Query": 1},
		},
		{
			event:  "http-publish.json",
			before: func(t testing.TB, f *fixture) { f.subscribe(t, "news", connA, connB) },
			frames: map[string][]string{
				connA: {`{"channel":"news","payload":{"headline":"server news"}}`},
				connB: {`{"channel":"news","payload":{"headline":"server news"}}`},
			},
			calls: map[string]int{"Query": 1},
		},
	}
	for _, typed := range []bool{false, true} {
		for _, tt := range tests {
			name := cmp.Or(tt.name, strings.TrimSuffix(tt.event, ".json"))
			if typed {
				name = "typed/" + name
			}
			t.Run(name, func(t *testing.T) {
				f := newFixture(t)
				if tt.before != nil {
					tt.before(t, f)
				}
				f.calls.Take()
				out, err := invoke(f, tt.event, typed, readEvent(t, tt.event))
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				var resp struct {
					StatusCode int `json:"statusCode"`
				}
				if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 200 {
					t.Fatalf("response = %s (%v), want statusCode 200", out, err)
				}
				for _, id := range []string{connA, connB, connC} {
					if got := f.mgmt.Take(id); !slices.Equal(got, tt.frames[id]) {
						t.Errorf("frames to %s:\n got %q\nwant %q", id, got, tt.frames[id])
					}
				}
				calls := f.calls.Take()
				if tt.calls == nil {
					tt.calls = map[string]int{}
				}
				if !mapsEqual(calls, tt.calls) {
					t.Errorf("DynamoDB calls = %v, want %v", calls, tt.calls)
				}
				if tt.members != nil {
					if got, _ := allMembers(t, f.store, "news"); !slices.Equal(got, tt.members) {
						t.Errorf("members of news = %v, want %v", got, tt.members)
					}
				}
			})
		}
	}
}

func invoke(f *fixture, event string, typed bool, data []byte) ([]byte, error) {
	ctx := invocationContext()
	switch {
	case !typed:
		return lambda.NewHandler(f.dispatch).Invoke(ctx, data)
	case strings.HasPrefix(event, "http-"):
		return lambda.NewHandler(f.dispatch.HTTP.Serve).Invoke(ctx, data)
	}
	return lambda.NewHandler(f.dispatch.WebSocket.Serve).Invoke(ctx, data)
}

func TestDispatchRejectsUnknownEvents(t *testing.T) {
	f := newFixture(t)
	for _, event := range []string{`{}`, `{"requestContext":{"connectionId":"x"}}`, `[1]`, `{"version":"1.0","httpMethod":"POST"}`} {
		if out, err := f.dispatch.Invoke(context.Background(), []byte(event)); err == nil {
			t.Errorf("Invoke(%s) = %s, want an error", event, out)
		}
	}
}

func TestLogsCarryRequestAndConnection(t *testing.T) {
	f := newFixture(t)
	f.subscribe(t, "news", connA, connB)
	f.mgmt.Fail(connB, 403) // not gone, not rate limited: logged
	if _, err := f.dispatch.Invoke(invocationContext(), readEvent(t, "ws-publish.json")); err != nil {
		t.Fatal(err)
	}
	var record map[string]any
	line, _, _ := bytes.Cut(f.logs.Bytes(), []byte("\n"))
	if err := json.Unmarshal(line, &record); err != nil {
		t.Fatalf("log = %q: %v", f.logs, err)
	}
	if record["requestId"] != "c6af9ac6-7b61-11e6-9a41-93e812345678" || record["connectionId"] != connA {
		t.Fatalf("log record = %v, want requestId and connectionId", record)
	}
}
