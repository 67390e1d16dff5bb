package awslambda_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/monologue-go/monologue/awslambda"
	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/relay/relaytest"
	"github.com/monologue-go/monologue/wire"
)

func TestDynamoConformance(t *testing.T) {
	relaytest.TestChannels(t, func(t *testing.T) relay.Channels {
		client, table, _ := newTable(t)
		return awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	})
}

// TestDynamoShardedConformance: with a bucket target of one member, every
// Members call of the suite doubles the channel's bucket count, so members
// placed under several counts are read, renewed and removed.
func TestDynamoShardedConformance(t *testing.T) {
	relaytest.TestChannels(t, func(t *testing.T) relay.Channels {
		client, table, _ := newTable(t)
		return awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, BucketTarget: 1, MaxBuckets: 16})
	})
}

// TestDynamoWatchersConformance: presence subscriptions share the table
// with memberships, under their own sort-key prefix.
func TestDynamoWatchersConformance(t *testing.T) {
	relaytest.TestChannels(t, func(t *testing.T) relay.Channels {
		client, table, _ := newTable(t)
		return awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, MemberPrefix: awslambda.WatcherPrefix})
	})
}

func TestDynamoNamesConformance(t *testing.T) {
	relaytest.TestNames(t, 3, func(t *testing.T) relay.Names {
		client, table, _ := newTable(t)
		return awslambda.NewDynamoNames(client, awslambda.DynamoOptions{Table: table, MaxPerConnection: 3})
	})
}

// TestDynamoStoresApart: a channel, its watchers and a name of the same
// spelling share a partition and never meet.
func TestDynamoStoresApart(t *testing.T) {
	ctx := context.Background()
	client, table, _ := newTable(t)
	members := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	watchers := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, MemberPrefix: awslambda.WatcherPrefix})
	names := awslambda.NewDynamoNames(client, awslambda.DynamoOptions{Table: table})
	if err := members.Subscribe(ctx, "x", "m1"); err != nil {
		t.Fatal(err)
	}
	if err := watchers.Subscribe(ctx, "x", "w1"); err != nil {
		t.Fatal(err)
	}
	if _, err := names.Claim(ctx, relay.Claim{Name: "x", ConnectionID: "h1", Exclusive: true}); err != nil {
		t.Fatal(err)
	}
	if ids, _ := allMembers(t, members, "x"); len(ids) != 1 || ids[0] != "m1" {
		t.Fatalf("members of x = %v, want [m1]", ids)
	}
	if ids, _ := allMembers(t, watchers, "x"); len(ids) != 1 || ids[0] != "w1" {
		t.Fatalf("watchers of x = %v, want [w1]", ids)
	}
	if ids, n, err := names.Holders(ctx, "x", 10); err != nil || n != 1 || ids[0] != "h1" {
		t.Fatalf("holders of x = %v (%d), %v; want [h1]", ids, n, err)
	}
	if left, err := members.DropConnection(ctx, "h1"); err != nil || len(left) != 0 {
		t.Fatalf("dropping h1's memberships took %v, %v: it has none", left, err)
	}
}

func allMembers(t *testing.T, s relay.Channels, channel string) (ids []string, pages int) {
	t.Helper()
	err := s.Members(context.Background(), channel, func(page []string) error {
		ids = append(ids, page...)
		pages++
		return nil
	})
	if err != nil {
		t.Fatalf("Members(%q): %v", channel, err)
	}
	slices.Sort(ids)
	return ids, pages
}

func TestDynamoExpiredItemsAreNotMembers(t *testing.T) {
	ctx := context.Background()
	client, table, _ := newTable(t)
	past := func() time.Time { return time.Now().Add(-4 * time.Hour) }
	stale := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, Now: past})
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	if err := stale.Subscribe(ctx, "news", "old"); err != nil { // ttl = 1 h ago
		t.Fatal(err)
	}
	if err := store.Subscribe(ctx, "news", "new"); err != nil {
		t.Fatal(err)
	}
	if got, _ := allMembers(t, store, "news"); !slices.Equal(got, []string{"new"}) {
		t.Fatalf("members = %v, want [new]: the expired item must be left out", got)
	}
	// The item is still there (neither DynamoDB nor DynamoDB Local deletes
	// expired items promptly), and has the ttl attribute.
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &table, Key: map[string]types.AttributeValue{
		"channel":      &types.AttributeValueMemberS{Value: "0#news"}, // bucket 0
		"connectionId": &types.AttributeValueMemberS{Value: "old"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ttl, ok := out.Item["ttl"].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item = %v, want a numeric ttl", out.Item)
	}
	if want := fmt.Sprint(time.Now().Add(-time.Hour).Unix()); ttl.Value > want {
		t.Fatalf("ttl = %s, want about %s", ttl.Value, want)
	}
}

func TestDynamoDropConnectionBatches(t *testing.T) {
	ctx := context.Background()
	client, table, counter := newTable(t)
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	const n = 60
	for i := range n {
		if err := store.Subscribe(ctx, fmt.Sprintf("ch-%02d", i), "leaver"); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Subscribe(ctx, "ch-00", "stayer"); err != nil {
		t.Fatal(err)
	}
	counter.Take()
	if _, err := store.DropConnection(ctx, "leaver"); err != nil {
		t.Fatal(err)
	}
	calls := counter.Take()
	if want := map[string]int{"Query": 1, "BatchWriteItem": 3}; !mapsEqual(calls, want) {
		t.Fatalf("calls = %v, want %v (ceil(60/25) batches)", calls, want)
	}
	for i := range n {
		got, _ := allMembers(t, store, fmt.Sprintf("ch-%02d", i))
		want := []string(nil)
		if i == 0 {
			want = []string{"stayer"}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("members of ch-%02d = %v, want %v", i, got, want)
		}
	}
}

func TestDynamoMembersPages(t *testing.T) {
	ctx := context.Background()
	client, table, counter := newTable(t)
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, PageSize: 10})
	var want []string
	for i := range 35 {
		id := fmt.Sprintf("conn-%02d", i)
		want = append(want, id)
		if err := store.Subscribe(ctx, "big", id); err != nil {
			t.Fatal(err)
		}
	}
	counter.Take()
	got, pages := allMembers(t, store, "big")
	if !slices.Equal(got, want) {
		t.Fatalf("members = %v, want %v", got, want)
	}
	if pages != 4 {
		t.Fatalf("fn called %d times, want 4 pages of at most 10", pages)
	}
	if calls := counter.Take(); calls["Query"] != 4 || len(calls) != 1 {
		t.Fatalf("calls = %v, want 4 Query and nothing else", calls)
	}
}

func TestDynamoMaxPerConnection(t *testing.T) {
	ctx := context.Background()
	client, table, _ := newTable(t)
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, MaxPerConnection: 2})
	for _, ch := range []string{"a", "b", "a"} {
		if err := store.Subscribe(ctx, ch, "c1"); err != nil {
			t.Fatalf("Subscribe(%s): %v", ch, err)
		}
	}
	if err := store.Subscribe(ctx, "c", "c1"); !errors.Is(err, wire.ErrLimitExceeded) {
		t.Fatalf("third channel: err = %v, want limit_exceeded", err)
	}
	if err := store.Unsubscribe(ctx, "a", "c1"); err != nil {
		t.Fatal(err)
	}
	if err := store.Subscribe(ctx, "c", "c1"); err != nil {
		t.Fatalf("after unsubscribe: %v", err)
	}
}

// unprocessedOnce is a DynamoDB whose first BatchWriteItem leaves all but
// one item unprocessed.
type unprocessedOnce struct {
	awslambda.DynamoDB
	batches  [][]types.WriteRequest
	returned bool
}

func (u *unprocessedOnce) Query(ctx context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	var items []map[string]types.AttributeValue
	for i := range 3 {
		items = append(items, map[string]types.AttributeValue{"channel": &types.AttributeValueMemberS{Value: fmt.Sprint("ch", i)}})
	}
	return &dynamodb.QueryOutput{Items: items}, nil
}

func (u *unprocessedOnce) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for table, requests := range in.RequestItems {
		u.batches = append(u.batches, requests)
		if !u.returned {
			u.returned = true
			return &dynamodb.BatchWriteItemOutput{UnprocessedItems: map[string][]types.WriteRequest{table: requests[1:]}}, nil
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func TestDynamoRetriesUnprocessedItems(t *testing.T) {
	fake := &unprocessedOnce{}
	store := awslambda.NewDynamoChannels(fake, awslambda.DynamoOptions{Table: "t"})
	if _, err := store.DropConnection(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if len(fake.batches) != 2 || len(fake.batches[0]) != 3 || len(fake.batches[1]) != 2 {
		t.Fatalf("batch sizes = %v, want [3 2]", batchSizes(fake.batches))
	}
}

func batchSizes(batches [][]types.WriteRequest) []int {
	var sizes []int
	for _, b := range batches {
		sizes = append(sizes, len(b))
	}
	return sizes
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestCreateTableTwice(t *testing.T) {
	client, table, _ := newTable(t)
	_ = client
	if err := awslambda.CreateTable(context.Background(), dynamolocalClient(t), table); err != nil {
		t.Fatalf("CreateTable on an existing table: %v", err)
	}
}
