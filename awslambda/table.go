package awslambda

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// CreateTable creates the channels table name as deploy/ does (keys
// channel and connectionId, index byConnection, on-demand billing) unless it
// exists, waits until it is ACTIVE, and enables TTL on the attribute ttl.
// An emulator without UpdateTimeToLive is tolerated: the store filters
// expired items itself.
func CreateTable(ctx context.Context, client *dynamodb.Client, name string) error {
	out, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttributeChannel), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttributeConnectionID), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(AttributeChannel), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(AttributeConnectionID), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexByConnection),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(AttributeConnectionID), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(AttributeChannel), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
	})
	var inUse *types.ResourceInUseException
	switch {
	case errors.As(err, &inUse):
	case err != nil:
		return fmt.Errorf("awslambda: create table %s: %w", name, err)
	}
	if err != nil || out.TableDescription == nil || out.TableDescription.TableStatus != types.TableStatusActive {
		waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = time.Second, 5*time.Second
		})
		if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 5*time.Minute); err != nil {
			return fmt.Errorf("awslambda: wait for table %s: %w", name, err)
		}
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(name),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttributeTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil && !ttlUnsupportedOrSet(err) {
		return fmt.Errorf("awslambda: enable TTL on table %s: %w", name, err)
	}
	return nil
}

// ttlUnsupportedOrSet reports whether an UpdateTimeToLive error means the
// emulator lacks the operation or TTL is already enabled.
func ttlUnsupportedOrSet(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "UnknownOperationException", "UnrecognizedClientException", "NotImplemented":
		return true
	case "ValidationException":
		return strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "already enabled")
	}
	return false
}
