// Command monologue-lambda is the bootstrap of monologue's Lambda function
// (runtime provided.al2023): it serves every route of the WebSocket API and
// POST /channels/{channel} of the HTTP API. Build it with
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags='-s -w' -o bootstrap ./cmd/monologue-lambda
//
// Environment:
//
//	MONOLOGUE_TABLE                DynamoDB table of channel subscriptions (required)
//	MONOLOGUE_PUBLISH_KEY          x-api-key of HTTP publish; empty refuses it
//	MONOLOGUE_MANAGEMENT_ENDPOINT  @connections API, https://ID.execute-api.REGION.amazonaws.com/STAGE;
//	                               empty: each WebSocket event's own (HTTP publish needs it)
//	MONOLOGUE_MAX_MESSAGE_SIZE     largest frame delivered, bytes (default 131072)
//	MONOLOGUE_FANOUT_CONCURRENCY   concurrent posts of one publish (default 16)
//	MONOLOGUE_MAX_SUBSCRIPTIONS    channels one connection may join; costs one more
//	                               Query per subscribe (default 0: no limit)
//	MONOLOGUE_MAX_NAMES            names one connection may hold (default 64)
//	AWS_ENDPOINT_URL_DYNAMODB      DynamoDB endpoint override (DynamoDB Local)
//	AWS_LAMBDA_LOG_LEVEL           DEBUG, INFO (default), WARN or ERROR
//
// and the variables Lambda sets: AWS_LAMBDA_RUNTIME_API, AWS_REGION and the
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
// without them, as in a local emulation, requests are signed with local/local).
package main

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/monologue-go/monologue/awslambda"
)

func main() {
	logger := awslambda.NewLogger(os.Stderr, logLevel(os.Getenv("AWS_LAMBDA_LOG_LEVEL")))
	dispatch, err := build(logger)
	if err != nil {
		logger.Error("start", "err", err)
		os.Exit(1)
	}
	lambda.Start(dispatch)
}

func build(logger *slog.Logger) (*awslambda.Dispatch, error) {
	cfg := awslambda.Config{
		Table:              os.Getenv("MONOLOGUE_TABLE"),
		PublishKey:         os.Getenv("MONOLOGUE_PUBLISH_KEY"),
		ManagementEndpoint: os.Getenv("MONOLOGUE_MANAGEMENT_ENDPOINT"),
		Logger:             logger,
	}
	var err error
	if cfg.MaxMessageSize, err = intEnv("MONOLOGUE_MAX_MESSAGE_SIZE"); err != nil {
		return nil, err
	}
	if cfg.FanoutConcurrency, err = intEnv("MONOLOGUE_FANOUT_CONCURRENCY"); err != nil {
		return nil, err
	}
	if cfg.MaxPerConnection, err = intEnv("MONOLOGUE_MAX_SUBSCRIPTIONS"); err != nil {
		return nil, err
	}
	if cfg.MaxNamesPerConnection, err = intEnv("MONOLOGUE_MAX_NAMES"); err != nil {
		return nil, err
	}
	cfg.QueueURL = os.Getenv("MONOLOGUE_QUEUE_URL")
	if cfg.FanoutInlineMax, err = intEnv("MONOLOGUE_FANOUT_INLINE_MAX"); err != nil {
		return nil, err
	}
	if cfg.FanoutInlineMax == 0 && os.Getenv("MONOLOGUE_FANOUT_INLINE_MAX") != "" {
		cfg.FanoutInlineMax = -1 // 0: every publish is queued
	}
	budget, err := intEnv("MONOLOGUE_CALLBACK_BUDGET")
	if err != nil {
		return nil, err
	}
	cfg.CallbackBudget = float64(budget)
	if cfg.WorkerConcurrency, err = intEnv("MONOLOGUE_WORKER_CONCURRENCY"); err != nil {
		return nil, err
	}
	cfg.AWS = awsConfig()
	cfg.DynamoDBEndpoint = os.Getenv("AWS_ENDPOINT_URL_DYNAMODB")
	cfg.SQSEndpoint = os.Getenv("AWS_ENDPOINT_URL_SQS")
	return awslambda.New(cfg)
}

// awsConfig reads the region and credentials Lambda puts in the
// environment. It does not use config.LoadDefaultConfig, whose shared
// files, SSO and IMDS support a function never needs, and which makes the
// bootstrap 1.9 MB larger and its start-up about 1 ms slower. Without
// AWS_ACCESS_KEY_ID (a local emulation), requests are signed with the dummy
// key local/local, which DynamoDB Local accepts.
func awsConfig() aws.Config {
	region := cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), "us-east-1")
	id, secret, token := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_SESSION_TOKEN")
	if id == "" {
		id, secret, token = "local", "local", ""
	}
	return aws.Config{
		Region:      region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, token)),
	}
}

func intEnv(name string) (int, error) {
	s := os.Getenv(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: want a non-negative integer", name, s)
	}
	return n, nil
}

func logLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "DEBUG", "TRACE":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR", "FATAL":
		return slog.LevelError
	}
	return slog.LevelInfo
}
