// Package awslambda runs monologue's relay in AWS Lambda, behind an API
// Gateway WebSocket API (every route) and an HTTP API (server-side publish),
// with channel subscriptions in DynamoDB.
//
// Entry points:
//   - [New] builds the function's handler from a [Config]; the returned
//     [Dispatch] takes raw event JSON of either API and is what
//     cmd/monologue-lambda passes to lambda.Start.
//   - [Handler] serves events.APIGatewayWebsocketProxyRequest for $connect,
//     $disconnect, $default and every action route.
//   - [HTTPHandler] serves events.APIGatewayV2HTTPRequest for
//     POST /channels/{channel}, protected by the publish key.
//   - [Sender] is a relay.Sender on the management API's PostToConnection;
//     its errors match wire.ErrGone and the other protocol errors.
//   - [DynamoChannels] is a relay.Channels store on a DynamoDB table, its
//     channel memberships sharded over buckets that double as a channel
//     grows, and [CreateTable] creates that table (for the local emulation
//     and tests).
//   - [QueuedChannels] publishes a large channel as one [Job] per bucket on
//     an SQS queue; [Worker] handles the queue's SQS events (Dispatch routes
//     them to it), paced by a [Limiter] per worker. Config.QueueURL turns
//     both on.
//   - [NewLogHandler] adds the Lambda request ID and the connection ID to
//     every log record.
//
// Cost per event: direct messages (whoami, loopback, sendmessage, $default,
// send) make no DynamoDB call; subscribe and unsubscribe make two (the
// channel's bucket count, then the item); publish makes one Query per page
// of members and per bucket (plus a GetItem and a DeleteItem per gone
// member); $disconnect makes one Query per page of the connection's
// channels and one BatchWriteItem per 25 of them.
//
// Running the function on one machine (API Gateway's event JSON, and a
// Lambda Runtime API server for the real bootstrap binary) is package
// lambdaemu's job, apart from this one, so that the deployed bootstrap
// links none of it.
package awslambda
