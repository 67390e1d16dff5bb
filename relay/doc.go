// Package relay implements monologue's routes as plain Go, with no transport:
// [Relay.Handle] takes one [Event] (a connection ID, a route, a body) and acts
// on it through small interfaces, its ports (ports.go): a [Sender] that
// delivers a frame to a connection on behalf of a tenant, and a [Channels]
// store of subscriptions, which may also publish a frame to a whole channel
// itself ([ChannelPublisher]).
//
// Because it holds no connections, the same relay runs in the gateway
// process (Sender: the gateway's connection table; Channels: memory) and in
// AWS Lambda (Sender: API Gateway's management API; Channels: DynamoDB).
// Everything a remote node would need travels through the ports: a delivery
// carries the sender's tenant, checked by the side that holds the target,
// and a publication is one call of the store.
//
// Each feature of the protocol is a file: direct.go (sendmessage,
// $default, loopback, send), channels.go (subscribe, unsubscribe, publish,
// HTTP broadcast); routes.go maps actions to them and says what a
// disconnect cleans up. Package relaytest holds the conformance suite of
// every port.
package relay
