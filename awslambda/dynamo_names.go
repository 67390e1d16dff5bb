package awslambda

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/monologue-go/monologue/relay"
)

// AttributeVersion counts the claims of a name, on its version item.
const AttributeVersion = "version"

// DefaultMaxNamesPerConnection bounds the names one connection may hold.
const DefaultMaxNamesPerConnection = 64

// maxClaimAttempts bounds the retries of a claim that raced another.
const maxClaimAttempts = 8

// DynamoNames is a relay.Names store in the channels table: a holder is the
// item (name, "~n~"+connectionID), beside the memberships of a channel of
// the same name but never among them, and found on disconnect through the
// index byConnection like they are. Every claim of a name also writes the
// name's version item in the same transaction, on the condition that the
// version is the one it read: of two racing claims one fails and tries
// again, after the other, so two exclusive claims can never both win.
type DynamoNames struct {
	client  DynamoNamesDB
	holders *DynamoChannels
	opts    DynamoOptions
}

// DynamoNamesDB is the part of *dynamodb.Client that DynamoNames uses.
type DynamoNamesDB interface {
	DynamoDB
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ relay.Names = (*DynamoNames)(nil)

// NewDynamoNames returns a names store on client's table opts.Table.
// opts.MaxPerConnection bounds the names of one connection (zero:
// DefaultMaxNamesPerConnection); MemberPrefix is set to HolderPrefix.
func NewDynamoNames(client DynamoNamesDB, opts DynamoOptions) *DynamoNames {
	if opts.MaxPerConnection <= 0 {
		opts.MaxPerConnection = DefaultMaxNamesPerConnection
	}
	opts.MemberPrefix = HolderPrefix
	holders := NewDynamoChannels(client, opts)
	return &DynamoNames{client: client, holders: holders, opts: holders.opts}
}

// Claim makes connectionID a holder of name: a GetItem of the version, a
// Query of the holders when exclusive, a Query of the connection's names
// for the limit, and one TransactWriteItems (again when it raced).
func (d *DynamoNames) Claim(ctx context.Context, c relay.Claim) ([]string, error) {
	name, connectionID, exclusive := c.Name, c.ConnectionID, c.Exclusive
	holder := HolderPrefix + connectionID
	if err := d.holders.checkLimit(ctx, name, holder); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		released, err := d.claimOnce(ctx, name, connectionID, exclusive)
		var canceled *types.TransactionCanceledException
		if err == nil || !errors.As(err, &canceled) || attempt == maxClaimAttempts {
			if err != nil {
				return nil, fmt.Errorf("awslambda: claim %q for %s: %w", name, connectionID, err)
			}
			return released, nil
		}
	}
}

func (d *DynamoNames) claimOnce(ctx context.Context, name, connectionID string, exclusive bool) ([]string, error) {
	versionKey := d.holders.key(name, versionPrefix+name)
	got, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &d.opts.Table, Key: versionKey, ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	version := int64(0)
	if v, ok := got.Item[AttributeVersion].(*types.AttributeValueMemberN); ok {
		version, _ = strconv.ParseInt(v.Value, 10, 64)
	}
	var released []string
	if exclusive {
		ids, _, err := d.Holders(ctx, name, relay.MaxListed)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if id != connectionID {
				released = append(released, id)
			}
		}
	}
	expires := strconv.FormatInt(d.opts.Now().Add(d.opts.TTL).Unix(), 10)
	versionItem := d.holders.key(name, versionPrefix+name)
	versionItem[AttributeVersion] = &types.AttributeValueMemberN{Value: strconv.FormatInt(version+1, 10)}
	versionItem[AttributeTTL] = &types.AttributeValueMemberN{Value: expires}
	holderItem := d.holders.key(name, HolderPrefix+connectionID)
	holderItem[AttributeTTL] = &types.AttributeValueMemberN{Value: expires}
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:           &d.opts.Table,
			Item:                versionItem,
			ConditionExpression: aws.String("attribute_not_exists(#v) OR #v = :v"),
			ExpressionAttributeNames: map[string]string{
				"#v": AttributeVersion,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)},
			},
		}},
		{Put: &types.Put{TableName: &d.opts.Table, Item: holderItem}},
	}
	// A transaction takes 100 items; past that, the rest of the holders
	// lose the name by plain deletes after it.
	const inTransaction = 98
	for _, id := range released[:min(len(released), inTransaction)] {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{
			TableName: &d.opts.Table, Key: d.holders.key(name, HolderPrefix+id),
		}})
	}
	if _, err := d.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		return nil, err
	}
	for _, id := range released[min(len(released), inTransaction):] {
		if err := d.holders.Unsubscribe(ctx, name, id); err != nil {
			return released, err
		}
	}
	return released, nil
}

// Release deletes the holder item: one DeleteItem.
func (d *DynamoNames) Release(ctx context.Context, name, connectionID string) error {
	return d.holders.Unsubscribe(ctx, name, connectionID)
}

// Holders queries the name's holders: one Query (per 1 MB page).
func (d *DynamoNames) Holders(ctx context.Context, name string, limit int) ([]string, int, error) {
	var ids []string
	count := 0
	err := d.holders.Members(ctx, name, func(page []string) error {
		count += len(page)
		if room := limit - len(ids); room > 0 {
			ids = append(ids, page[:min(room, len(page))]...)
		}
		return nil
	})
	return ids, count, err
}

// DropConnection releases every name connectionID holds: one Query of the
// index, and one BatchWriteItem per 25 names.
func (d *DynamoNames) DropConnection(ctx context.Context, connectionID string) error {
	_, err := d.holders.DropConnection(ctx, connectionID)
	return err
}
