package awslambda

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/monologue-go/monologue/relay"
)

// Names in the channels table. deploy/ creates the same table.
const (
	AttributeChannel      = "channel"      // partition key (S)
	AttributeConnectionID = "connectionId" // sort key (S)
	AttributeTTL          = "ttl"          // expiry, epoch seconds (N)
	IndexByConnection     = "byConnection" // GSI: connectionId, channel
)

// DefaultSubscriptionTTL is how long a subscription item lives when nothing
// removes it: longer than API Gateway's 2-hour maximum connection age, so a
// live connection never loses a subscription to it.
const DefaultSubscriptionTTL = 3 * time.Hour

// batchSize is BatchWriteItem's limit on requests per call.
const batchSize = 25

// maxBatchAttempts bounds the retries of a batch's unprocessed items.
const maxBatchAttempts = 8

// DynamoDB is the part of *dynamodb.Client that DynamoChannels uses.
type DynamoDB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ DynamoDB = (*dynamodb.Client)(nil)

// DynamoOptions configures a [DynamoChannels]. Table is required.
type DynamoOptions struct {
	// Table is the name of the channels table.
	Table string
	// TTL is how long a subscription lives without being renewed. Zero:
	// DefaultSubscriptionTTL.
	TTL time.Duration
	// PageSize caps the items of one Query page (Query's Limit). Zero: no
	// cap, DynamoDB's 1 MB pages (about 15,000 members).
	PageSize int32
	// MaxPerConnection bounds how many channels one connection may join;
	// past it Subscribe returns an error matching wire.ErrLimitExceeded. The
	// check costs one more Query per subscribe. Zero: no bound.
	MaxPerConnection int
	// EventuallyConsistent makes Members use eventually consistent reads,
	// at half the read cost, so a subscriber may miss messages published
	// within about a second of its subscribe. False: strongly consistent.
	EventuallyConsistent bool
	// Now tells the time, for tests. Nil: time.Now.
	Now func() time.Time
	// MemberPrefix starts the sort key of every item of this store, so that
	// several stores share the table without meeting: "" for channel
	// memberships, whose sort keys (connection IDs, base64) all sort below
	// "~"; WatcherPrefix for presence subscriptions; the names store uses
	// HolderPrefix. Zero: "".
	MemberPrefix string
	// BucketTarget is how many members a bucket of a channel holds before
	// the channel's bucket count doubles (memberships only). Zero:
	// DefaultBucketTarget.
	BucketTarget int
	// MaxBuckets caps a channel's bucket count; a power of two. Zero:
	// DefaultMaxBuckets.
	MaxBuckets int
}

// Sort-key prefixes of the stores that share the table with the channel
// memberships. "~" sorts above every character of a connection ID.
const (
	WatcherPrefix = "~w~"
	HolderPrefix  = "~n~"
	versionPrefix = "~v~"
)

// DynamoChannels is a relay.Channels store in a DynamoDB table with one item
// {channel, connectionId, ttl} per subscription, and the index byConnection
// to find a connection's channels on disconnect. It never scans. Items past
// their ttl are not members, whether or not DynamoDB has deleted them yet.
//
// Channel memberships (MemberPrefix "") are sharded: a channel's members
// spread over buckets, partitions "{b}#{channel}", with b a hash of the
// connection ID modulo the channel's bucket count, which doubles as the
// channel grows (see dynamo_buckets.go). Presence subscriptions and name
// holders are not: their partition is the channel or name itself.
type DynamoChannels struct {
	client DynamoDB
	opts   DynamoOptions
}

var _ relay.Channels = (*DynamoChannels)(nil)

// NewDynamoChannels returns a store on client's table opts.Table.
func NewDynamoChannels(client DynamoDB, opts DynamoOptions) *DynamoChannels {
	if opts.TTL <= 0 {
		opts.TTL = DefaultSubscriptionTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BucketTarget <= 0 {
		opts.BucketTarget = DefaultBucketTarget
	}
	if opts.MaxBuckets <= 0 {
		opts.MaxBuckets = DefaultMaxBuckets
	}
	for opts.MaxBuckets&(opts.MaxBuckets-1) != 0 { // round down to a power of two
		opts.MaxBuckets &= opts.MaxBuckets - 1
	}
	return &DynamoChannels{client: client, opts: opts}
}

func (d *DynamoChannels) key(channel, connectionID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		AttributeChannel:      &types.AttributeValueMemberS{Value: channel},
		AttributeConnectionID: &types.AttributeValueMemberS{Value: connectionID},
	}
}

// Subscribe puts the item (channel, connectionID) with a fresh ttl: one
// PutItem, plus one Query when MaxPerConnection is set. A membership first
// reads the channel's bucket count (one GetItem) and, in a channel of more
// than one bucket, deletes the copies an earlier, smaller count may have
// placed elsewhere (one BatchWriteItem).
func (d *DynamoChannels) Subscribe(ctx context.Context, channel, connectionID string) error {
	connectionID = d.opts.MemberPrefix + connectionID
	if d.opts.MaxPerConnection > 0 {
		if err := d.checkLimit(ctx, channel, connectionID); err != nil {
			return err
		}
	}
	partition := channel
	if d.sharded() {
		buckets, err := d.Buckets(ctx, channel, false)
		if err != nil {
			return fmt.Errorf("awslambda: subscribe %s to %q: %w", connectionID, channel, err)
		}
		b := bucketOf(connectionID, buckets)
		partition = bucketKey(channel, b)
		if others := olderBuckets(connectionID, buckets, b); len(others) > 0 {
			if err := d.deleteFrom(ctx, channel, connectionID, others); err != nil {
				return fmt.Errorf("awslambda: subscribe %s to %q: %w", connectionID, channel, err)
			}
		}
	}
	item := d.key(partition, connectionID)
	expires := d.opts.Now().Add(d.opts.TTL).Unix()
	item[AttributeTTL] = &types.AttributeValueMemberN{Value: strconv.FormatInt(expires, 10)}
	_, err := d.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.opts.Table, Item: item})
	if err != nil {
		return fmt.Errorf("awslambda: subscribe %s to %q: %w", connectionID, channel, err)
	}
	return nil
}

// checkLimit counts connectionID's subscriptions on the index; at the limit,
// it allows only a channel already joined.
func (d *DynamoChannels) checkLimit(ctx context.Context, channel, connectionID string) error {
	count := 0
	joined := false
	in := &dynamodb.QueryInput{
		TableName:              &d.opts.Table,
		IndexName:              aws.String(IndexByConnection),
		KeyConditionExpression: aws.String("#c = :c"),
		ProjectionExpression:   aws.String("#ch"),
		ExpressionAttributeNames: map[string]string{
			"#c":  AttributeConnectionID,
			"#ch": AttributeChannel,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": &types.AttributeValueMemberS{Value: connectionID},
		},
	}
	pages := dynamodb.NewQueryPaginator(d.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("awslambda: count subscriptions of %s: %w", connectionID, err)
		}
		for _, item := range page.Items {
			count++
			if key, ok := stringAttribute(item, AttributeChannel); ok && d.channelOf(key) == channel {
				joined = true // renewing a subscription it has
			}
		}
	}
	if count < d.opts.MaxPerConnection || joined {
		return nil
	}
	return d.limitError()
}

// limitError is the error of a connection at MaxPerConnection.
func (d *DynamoChannels) limitError() error {
	if d.opts.MemberPrefix == HolderPrefix {
		return relay.ErrNameLimit(d.opts.MaxPerConnection)
	}
	return relay.ErrChannelLimit(d.opts.MaxPerConnection)
}

// Unsubscribe deletes the item (channel, connectionID): one DeleteItem. A
// membership first reads the channel's bucket count (one GetItem, strongly
// consistent) and, in a channel of more than one bucket, deletes the item
// from every bucket a count up to it may have placed it in (one
// BatchWriteItem instead of the DeleteItem).
func (d *DynamoChannels) Unsubscribe(ctx context.Context, channel, connectionID string) error {
	var err error
	if d.sharded() {
		err = d.unsubscribeSharded(ctx, channel, connectionID)
	} else {
		_, err = d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.opts.Table, Key: d.key(channel, d.opts.MemberPrefix+connectionID)})
	}
	if err != nil {
		return fmt.Errorf("awslambda: unsubscribe %s from %q: %w", connectionID, channel, err)
	}
	return nil
}

// Members queries the channel's items, a page at a time, leaving out those
// past their ttl: one Query per page, and per bucket of a sharded channel.
// The first bucket's Query also reads the bucket count; when a bucket holds
// more than BucketTarget members, Members doubles the count (one UpdateItem)
// for the subscriptions to come.
func (d *DynamoChannels) Members(ctx context.Context, channel string, fn func(connectionIDs []string) error) error {
	if d.sharded() {
		return d.shardedMembers(ctx, channel, fn)
	}
	_, _, err := d.query(ctx, channel, fn)
	return err
}

// query reads one partition's members, a page at a time, and returns how
// many it found and, in a bucket-0 partition, the channel's bucket count
// (zero when it has no count item).
func (d *DynamoChannels) query(ctx context.Context, partition string, fn func(connectionIDs []string) error) (count, buckets int, err error) {
	channel := partition
	now := strconv.FormatInt(d.opts.Now().Unix(), 10)
	in := &dynamodb.QueryInput{
		TableName:              &d.opts.Table,
		KeyConditionExpression: aws.String("#ch = :ch AND begins_with(#c, :p)"),
		FilterExpression:       aws.String("attribute_not_exists(#ttl) OR #ttl > :now"),
		ProjectionExpression:   aws.String("#c"),
		ExpressionAttributeNames: map[string]string{
			"#ch":  AttributeChannel,
			"#c":   AttributeConnectionID,
			"#ttl": AttributeTTL,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ch":  &types.AttributeValueMemberS{Value: channel},
			":now": &types.AttributeValueMemberN{Value: now},
			":p":   &types.AttributeValueMemberS{Value: d.opts.MemberPrefix},
		},
		ConsistentRead: aws.Bool(!d.opts.EventuallyConsistent),
	}
	if d.sharded() { // memberships: every sort key below "~", and the bucket count item
		in.KeyConditionExpression = aws.String("#ch = :ch AND #c <= :p")
		in.ExpressionAttributeValues[":p"] = &types.AttributeValueMemberS{Value: bucketsSortKey}
		in.ProjectionExpression = aws.String("#c, #b")
		in.ExpressionAttributeNames["#b"] = AttributeBuckets
	}
	if d.opts.PageSize > 0 {
		in.Limit = aws.Int32(d.opts.PageSize)
	}
	var ids []string
	pages := dynamodb.NewQueryPaginator(d.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return count, buckets, fmt.Errorf("awslambda: members of %q: %w", channel, err)
		}
		ids = ids[:0]
		for _, item := range page.Items {
			id, ok := stringAttribute(item, AttributeConnectionID)
			switch {
			case !ok:
			case id == bucketsSortKey:
				buckets = numberAttribute(item, AttributeBuckets)
			default:
				ids = append(ids, id[len(d.opts.MemberPrefix):])
			}
		}
		if len(ids) == 0 {
			continue
		}
		count += len(ids)
		if err := fn(ids); err != nil {
			return count, buckets, err
		}
	}
	return count, buckets, nil
}

// DropConnection finds connectionID's channels on the index byConnection
// and deletes them with BatchWriteItem, 25 at a time: one Query per page of
// the index and one BatchWriteItem per 25 subscriptions (more when DynamoDB
// leaves items unprocessed). The index is eventually consistent, so a
// subscribe made just before may be missed; its ttl, and publish dropping
// gone members, clean it up.
func (d *DynamoChannels) DropConnection(ctx context.Context, connectionID string) ([]string, error) {
	connectionID = d.opts.MemberPrefix + connectionID
	in := &dynamodb.QueryInput{
		TableName:              &d.opts.Table,
		IndexName:              aws.String(IndexByConnection),
		KeyConditionExpression: aws.String("#c = :c"),
		ProjectionExpression:   aws.String("#ch"),
		ExpressionAttributeNames: map[string]string{
			"#c":  AttributeConnectionID,
			"#ch": AttributeChannel,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":c": &types.AttributeValueMemberS{Value: connectionID},
		},
	}
	var deletes []types.WriteRequest
	var left []string
	pages := dynamodb.NewQueryPaginator(d.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return left, fmt.Errorf("awslambda: channels of %s: %w", connectionID, err)
		}
		for _, item := range page.Items {
			partition, ok := stringAttribute(item, AttributeChannel)
			if !ok {
				continue
			}
			deletes = append(deletes, types.WriteRequest{
				DeleteRequest: &types.DeleteRequest{Key: d.key(partition, connectionID)},
			})
			if channel := d.channelOf(partition); !slices.Contains(left, channel) {
				left = append(left, channel)
			}
			if len(deletes) == batchSize {
				if err := d.batchWrite(ctx, deletes); err != nil {
					return left, fmt.Errorf("awslambda: drop subscriptions of %s: %w", connectionID, err)
				}
				deletes = deletes[:0]
			}
		}
	}
	if len(deletes) > 0 {
		if err := d.batchWrite(ctx, deletes); err != nil {
			return left, fmt.Errorf("awslambda: drop subscriptions of %s: %w", connectionID, err)
		}
	}
	return left, nil
}

// batchWrite writes at most 25 requests, retrying unprocessed items with
// exponential back-off.
func (d *DynamoChannels) batchWrite(ctx context.Context, requests []types.WriteRequest) error {
	pending := map[string][]types.WriteRequest{d.opts.Table: requests}
	delay := 25 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := d.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
		if err != nil {
			return err
		}
		if len(out.UnprocessedItems[d.opts.Table]) == 0 {
			return nil
		}
		if attempt == maxBatchAttempts {
			return fmt.Errorf("%d items still unprocessed after %d attempts", len(out.UnprocessedItems[d.opts.Table]), attempt)
		}
		pending = out.UnprocessedItems
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		delay = min(2*delay, time.Second)
	}
}

func stringAttribute(item map[string]types.AttributeValue, name string) (string, bool) {
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return v.Value, true
}
