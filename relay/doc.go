// Package relay implements monologue's routes as plain Go, with no transport:
// [Relay.Handle] takes one [Event] (a connection ID, a route, a body) and acts
// on it through two small interfaces, a [Sender] that posts bytes to a
// connection and a [Channels] store of subscriptions.
//
// Because it holds no connections, the same relay runs in the gateway
// process, in AWS Lambda (Sender on API Gateway's management API, Channels on
// DynamoDB) and in a cluster (both over NATS).
package relay
