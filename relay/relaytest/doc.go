// Package relaytest holds the conformance suites that every implementation
// of the relay's ports passes, and a recording Sender for unit tests of the
// relay.
//
//   - [TestSender]: delivery, gone (never issued and closed), the size limit,
//     rate_limited on a stalled receiver without blocking, no retention of
//     the caller's buffer, order per sender, tenants. Run by the gateway's
//     tests against the gateway's connection table and against API
//     Gateway's management API client (awslambda.Sender) posting through the
//     gateway's @connections listener, and by the cluster's tests against a
//     node's Sender, to another node's connections and to its own.
//   - [TestChannels]: subscribe, unsubscribe, members in pages, dropping a
//     connection. Run against the memory store (package channels), the
//     DynamoDB store (package awslambda, against DynamoDB Local) and a
//     cluster node's store (package cluster, over NATS).
//
// A new implementation of a port adds a test that calls the suite with a
// harness of its own.
package relaytest
