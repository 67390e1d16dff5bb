package awslambda

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// lazyDynamo builds the DynamoDB client on its first call, so that a cold
// start serving a direct message never pays for it.
type lazyDynamo struct {
	once      sync.Once
	newClient func() *dynamodb.Client
	client    *dynamodb.Client
}

var _ DynamoNamesDB = (*lazyDynamo)(nil)

func (l *lazyDynamo) get() *dynamodb.Client {
	l.once.Do(func() { l.client = l.newClient() })
	return l.client
}

func (l *lazyDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return l.get().PutItem(ctx, in, optFns...)
}

func (l *lazyDynamo) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return l.get().DeleteItem(ctx, in, optFns...)
}

func (l *lazyDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return l.get().Query(ctx, in, optFns...)
}

func (l *lazyDynamo) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	return l.get().BatchWriteItem(ctx, in, optFns...)
}

func (l *lazyDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return l.get().GetItem(ctx, in, optFns...)
}

func (l *lazyDynamo) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return l.get().TransactWriteItems(ctx, in, optFns...)
}

func (l *lazyDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return l.get().UpdateItem(ctx, in, optFns...)
}
