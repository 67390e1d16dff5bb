package awslambda

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Sharded memberships.
//
// A channel's members spread over buckets: the member connectionID of
// channel is the item ("{b}#{channel}", connectionID) with
// b = fnv32a(connectionID) mod n, n the channel's bucket count, a power of
// two kept on the item ("0#{channel}", "~b~") beside bucket 0's members
// (absent: 1). The decimal b before the first "#" makes the partition key
// unambiguous whatever the channel's spelling.
//
// The count only grows, by doubling, up to MaxBuckets: when one of the
// newest buckets, those in the upper half of the count (bucket 0 of a
// channel of one), holds more than BucketTarget members. Only members that
// joined under the current count are there, so the older buckets, which
// stay as full as they were, do not make the count grow again. Members and
// the worker of a bucket's job check it. A member placed
// under an earlier count n' stays in bucket hash mod n', which is below the
// current count, so readers of buckets 0..n-1 find it. Unsubscribe deletes
// the member from hash mod n' for every n' up to n (at most log2(n)+1
// keys); Subscribe, renewing a membership, deletes the same older copies so
// that no member is ever in two buckets.

// AttributeBuckets is a channel's bucket count, on its count item (N).
const AttributeBuckets = "buckets"

// bucketsSortKey is the sort key of a channel's bucket count item, in
// bucket 0. It sorts above every connection ID and below the other stores'
// prefixes ("~n~", "~v~", "~w~").
const bucketsSortKey = "~b~"

// DefaultBucketTarget is how many members a bucket holds before the
// channel's bucket count doubles: a Query page or two, and a worker's job.
const DefaultBucketTarget = 1000

// DefaultMaxBuckets caps a channel's bucket count: 1,024 buckets of about
// 1,000 members is a channel of a million.
const DefaultMaxBuckets = 1024

// sharded reports whether this store spreads a channel over buckets: the
// memberships do, presence subscriptions and name holders do not.
func (d *DynamoChannels) sharded() bool { return d.opts.MemberPrefix == "" }

// bucketKey is the partition key of channel's bucket b.
func bucketKey(channel string, b int) string {
	return strconv.Itoa(b) + "#" + channel
}

// channelOf is the channel of partition key key.
func (d *DynamoChannels) channelOf(key string) string {
	if !d.sharded() {
		return key
	}
	if i := strings.IndexByte(key, '#'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// bucketOf is connectionID's bucket in a channel of n buckets (a power of
// two).
func bucketOf(connectionID string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(connectionID))
	return int(h.Sum32() & uint32(n-1))
}

// olderBuckets are the buckets other than current that connectionID was
// placed in under a smaller count than n.
func olderBuckets(connectionID string, n, current int) []int {
	var out []int
	for m := 1; m < n; m *= 2 {
		if b := bucketOf(connectionID, m); b != current && !containsInt(out, b) {
			out = append(out, b)
		}
	}
	return out
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// bucketsKey is the key of channel's bucket count item.
func (d *DynamoChannels) bucketsKey(channel string) map[string]types.AttributeValue {
	return d.key(bucketKey(channel, 0), bucketsSortKey)
}

// Buckets returns channel's bucket count: one GetItem, strongly consistent
// when consistent is set.
func (d *DynamoChannels) Buckets(ctx context.Context, channel string, consistent bool) (int, error) {
	if !d.sharded() {
		return 1, nil
	}
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.opts.Table,
		Key:            d.bucketsKey(channel),
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return 0, fmt.Errorf("awslambda: bucket count of %q: %w", channel, err)
	}
	return max(1, numberAttribute(out.Item, AttributeBuckets)), nil
}

// BucketMembers calls fn with the members of channel's bucket b of
// buckets, a page at a time, and returns how many there were: one Query per
// page. When b is one of the newest buckets and holds more than
// BucketTarget members, it doubles the channel's count (one UpdateItem,
// which does nothing if the count is no longer buckets).
func (d *DynamoChannels) BucketMembers(ctx context.Context, channel string, b, buckets int, fn func(connectionIDs []string) error) (int, error) {
	count, _, err := d.query(ctx, bucketKey(channel, b), fn)
	if err != nil {
		return count, err
	}
	if !newest(b, buckets) {
		return count, nil
	}
	return count, d.grow(ctx, channel, max(buckets, 1), count)
}

// newest reports whether bucket b is in the upper half of a count of
// buckets, where only members placed under that count are.
func newest(b, buckets int) bool { return buckets <= 1 || b >= buckets/2 }

// shardedMembers reads bucket 0 (and the bucket count), then the others.
func (d *DynamoChannels) shardedMembers(ctx context.Context, channel string, fn func(connectionIDs []string) error) error {
	count, buckets, err := d.query(ctx, bucketKey(channel, 0), fn)
	if err != nil {
		return err
	}
	buckets = max(1, buckets)
	largest := 0
	if newest(0, buckets) {
		largest = count
	}
	for b := 1; b < buckets; b++ {
		n, _, err := d.query(ctx, bucketKey(channel, b), fn)
		if err != nil {
			return err
		}
		if newest(b, buckets) {
			largest = max(largest, n)
		}
	}
	return d.grow(ctx, channel, buckets, largest)
}

// grow doubles channel's bucket count from buckets when largest, the
// fullest of its newest buckets, holds more than BucketTarget members: one conditional UpdateItem, which
// loses harmlessly to a concurrent doubling.
func (d *DynamoChannels) grow(ctx context.Context, channel string, buckets, largest int) error {
	if largest <= d.opts.BucketTarget || buckets >= d.opts.MaxBuckets {
		return nil
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &d.opts.Table,
		Key:                      d.bucketsKey(channel),
		UpdateExpression:         aws.String("SET #b = :next"),
		ConditionExpression:      aws.String("attribute_not_exists(#b) OR #b = :now"),
		ExpressionAttributeNames: map[string]string{"#b": AttributeBuckets},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":next": &types.AttributeValueMemberN{Value: strconv.Itoa(2 * buckets)},
			":now":  &types.AttributeValueMemberN{Value: strconv.Itoa(buckets)},
		},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("awslambda: grow %q to %d buckets: %w", channel, 2*buckets, err)
	}
	return nil
}

// unsubscribeSharded deletes connectionID from every bucket of channel it
// may be in.
func (d *DynamoChannels) unsubscribeSharded(ctx context.Context, channel, connectionID string) error {
	buckets, err := d.Buckets(ctx, channel, true)
	if err != nil {
		return err
	}
	current := bucketOf(connectionID, buckets)
	all := append([]int{current}, olderBuckets(connectionID, buckets, current)...)
	if len(all) == 1 {
		_, err := d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.opts.Table, Key: d.key(bucketKey(channel, current), connectionID)})
		return err
	}
	return d.deleteFrom(ctx, channel, connectionID, all)
}

// deleteFrom deletes connectionID's items from channel's buckets (at most
// 25 of them; log2(MaxBuckets)+1 is far fewer).
func (d *DynamoChannels) deleteFrom(ctx context.Context, channel, connectionID string, buckets []int) error {
	requests := make([]types.WriteRequest, 0, len(buckets))
	for _, b := range buckets {
		requests = append(requests, types.WriteRequest{
			DeleteRequest: &types.DeleteRequest{Key: d.key(bucketKey(channel, b), connectionID)},
		})
	}
	return d.batchWrite(ctx, requests)
}

func numberAttribute(item map[string]types.AttributeValue, name string) int {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(v.Value)
	return n
}

// SubscribeAll writes the memberships of connectionIDs in channel with
// BatchWriteItem, 25 to a call, spread over buckets (a power of two), and
// sets the channel's bucket count to buckets: a way to load a new channel
// for tests and benchmarks. It neither checks MaxPerConnection nor removes
// copies an earlier count placed elsewhere.
func (d *DynamoChannels) SubscribeAll(ctx context.Context, channel string, connectionIDs []string, buckets int) error {
	if !d.sharded() || buckets < 1 || buckets&(buckets-1) != 0 {
		return errors.New("awslambda: SubscribeAll needs the memberships store and a power of two")
	}
	expires := strconv.FormatInt(d.opts.Now().Add(d.opts.TTL).Unix(), 10)
	var batch []types.WriteRequest
	for i, id := range connectionIDs {
		item := d.key(bucketKey(channel, bucketOf(id, buckets)), id)
		item[AttributeTTL] = &types.AttributeValueMemberN{Value: expires}
		batch = append(batch, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
		if len(batch) == batchSize || i == len(connectionIDs)-1 {
			if err := d.batchWrite(ctx, batch); err != nil {
				return fmt.Errorf("awslambda: subscribe %d connections to %q: %w", len(connectionIDs), channel, err)
			}
			batch = batch[:0]
		}
	}
	count := d.bucketsKey(channel)
	count[AttributeBuckets] = &types.AttributeValueMemberN{Value: strconv.Itoa(buckets)}
	if _, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.Table, Item: count}); err != nil {
		return fmt.Errorf("awslambda: set the bucket count of %q: %w", channel, err)
	}
	return nil
}
