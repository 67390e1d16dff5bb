package awslambda_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/monologue-go/monologue/awslambda"
)

// partitions counts the membership items of channel per partition key, by
// reading every bucket partition up to max.
func partitions(t *testing.T, client *dynamodb.Client, table, channel string, max int) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for b := range max {
		key := fmt.Sprintf("%d#%s", b, channel)
		res, err := client.Query(context.Background(), &dynamodb.QueryInput{
			TableName:                 &table,
			KeyConditionExpression:    aws.String("#ch = :ch AND #c < :t"),
			ExpressionAttributeNames:  map[string]string{"#ch": "channel", "#c": "connectionId"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":ch": &types.AttributeValueMemberS{Value: key}, ":t": &types.AttributeValueMemberS{Value: "~"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Count > 0 {
			out[key] = int(res.Count)
		}
	}
	return out
}

func TestDynamoBucketsGrowAndStayExact(t *testing.T) {
	ctx := context.Background()
	client, table, counter := newTable(t)
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, BucketTarget: 5, MaxBuckets: 8})
	var want []string
	subscribe := func(from, to int) {
		for i := from; i < to; i++ {
			id := fmt.Sprintf("conn-%03d", i)
			if err := store.Subscribe(ctx, "big", id); err != nil {
				t.Fatal(err)
			}
			want = append(want, id)
		}
		slices.Sort(want)
		want = slices.Compact(want)
	}
	check := func(step string) {
		t.Helper()
		if got, _ := allMembers(t, store, "big"); !slices.Equal(got, want) {
			t.Fatalf("%s: members = %d %v, want %d", step, len(got), got, len(want))
		}
	}
	subscribe(0, 20)
	if n, _ := store.Buckets(ctx, "big", true); n != 1 {
		t.Fatalf("buckets before any read = %d, want 1", n)
	}
	// Each read of a channel whose largest bucket is past the target
	// doubles its count, up to MaxBuckets.
	for _, wantBuckets := range []int{2, 4, 8, 8} {
		check("read")
		if n, _ := store.Buckets(ctx, "big", true); n != wantBuckets {
			t.Fatalf("buckets = %d, want %d", n, wantBuckets)
		}
		subscribe(0, 40) // renew the first 20 under the new count, add 20
	}
	check("after renewals")
	total := 0
	parts := partitions(t, client, table, "big", 8)
	for _, n := range parts {
		total += n
	}
	if total != 40 || len(parts) < 6 {
		t.Fatalf("items per bucket = %v (total %d): want 40 items, spread over the 8 buckets, none twice", parts, total)
	}

	// A member placed under count 1 leaves from bucket 0, not its bucket under 8.
	counter.Take()
	for i := range 40 {
		if i%2 == 0 {
			if err := store.Unsubscribe(ctx, "big", fmt.Sprintf("conn-%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// One read of the count each, then one BatchWriteItem for the buckets
	// the member may be in, or a DeleteItem when they are all the same one.
	if calls := counter.Take(); calls["GetItem"] != 20 || calls["BatchWriteItem"]+calls["DeleteItem"] != 20 || calls["BatchWriteItem"] < 10 {
		t.Fatalf("20 unsubscribes from 8 buckets made %v, want a GetItem and a delete each, most of them batches", calls)
	}
	want = slices.DeleteFunc(want, func(id string) bool {
		var i int
		fmt.Sscanf(id, "conn-%d", &i)
		return i%2 == 0
	})
	check("after unsubscribes")

	// Disconnect finds the member's bucket on the index, and names the channel.
	left, err := store.DropConnection(ctx, "conn-001")
	if err != nil || !slices.Equal(left, []string{"big"}) {
		t.Fatalf("DropConnection = %v, %v; want [big]", left, err)
	}
	want = slices.DeleteFunc(want, func(id string) bool { return id == "conn-001" })
	check("after disconnect")
}

// TestDynamoBucketKeysUnambiguous: a channel spelled like another's bucket
// never meets it.
func TestDynamoBucketKeysUnambiguous(t *testing.T) {
	ctx := context.Background()
	client, table, _ := newTable(t)
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table})
	for _, sub := range [][2]string{{"x", "a"}, {"0#x", "b"}, {"1#x", "c"}, {"x#1", "d"}} {
		if err := store.Subscribe(ctx, sub[0], sub[1]); err != nil {
			t.Fatal(err)
		}
	}
	for ch, want := range map[string]string{"x": "a", "0#x": "b", "1#x": "c", "x#1": "d"} {
		if got, _ := allMembers(t, store, ch); !slices.Equal(got, []string{want}) {
			t.Fatalf("members of %q = %v, want [%s]", ch, got, want)
		}
	}
	left, err := store.DropConnection(ctx, "b")
	if err != nil || strings.Join(left, ",") != "0#x" {
		t.Fatalf("DropConnection(b) = %v, %v; want [0#x]", left, err)
	}
}

// TestDynamoBucketMembers: a worker reads one bucket, and one of the newest
// buckets past the target doubles the count.
func TestDynamoBucketMembers(t *testing.T) {
	ctx := context.Background()
	client, table, _ := newTable(t)
	store := awslambda.NewDynamoChannels(client, awslambda.DynamoOptions{Table: table, BucketTarget: 5})
	for i := range 12 {
		if err := store.Subscribe(ctx, "w", fmt.Sprint("m", i)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	n, err := store.BucketMembers(ctx, "w", 0, 1, func(ids []string) error { got = append(got, ids...); return nil })
	if err != nil || n != 12 || len(got) != 12 {
		t.Fatalf("BucketMembers = %d (%d ids), %v; want 12", n, len(got), err)
	}
	if b, _ := store.Buckets(ctx, "w", true); b != 2 {
		t.Fatalf("buckets = %d, want 2", b)
	}
	if n, err := store.BucketMembers(ctx, "w", 1, 2, func([]string) error { return nil }); err != nil || n != 0 {
		t.Fatalf("bucket 1 = %d, %v; want empty until members subscribe under 2 buckets", n, err)
	}
	// Bucket 0 is no longer one of the newest: however full, it does not
	// make the count grow again.
	if n, err := store.BucketMembers(ctx, "w", 0, 2, func([]string) error { return nil }); err != nil || n != 12 {
		t.Fatalf("bucket 0 = %d, %v; want 12", n, err)
	}
	if b, _ := store.Buckets(ctx, "w", true); b != 2 {
		t.Fatalf("buckets after reading the old bucket 0 = %d, want still 2", b)
	}
}
