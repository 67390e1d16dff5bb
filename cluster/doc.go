// Package cluster makes several gateway nodes act as one gateway, with NATS
// as the backbone: it implements the relay's ports (a Sender, a Channels
// store that publishes itself) and the management API's reach to
// connections held by other nodes.
//
// Entry points: [New] joins a node to the cluster over a NATS connection
// (to an external NATS, or to the node's own embedded server started with
// [StartEmbedded]); [Node.Attach] gives it the local gateway; then
// [Node.Sender], [Node.Channels] and the node itself (for the management
// API) are what the gateway and its relay use. [Node.Close] leaves.
//
// # How a message finds its connection
//
// A node draws a random 3-byte tag when it starts; every connection ID it
// issues begins with that tag (wire.NewConnectionIDOn), so a message for a
// connection is sent straight to the subject of the node that holds it,
// "monologue.NAME.n.TAG.d": one NATS subscription per node, never one per
// connection, however many connections there are.
//
// A direct message (sendmessage, a call, its reply) for a connection of a
// live node is handed on without waiting for the outcome, so the sender's
// reader goes on at once and deliveries batch: the deliveries to each node
// are numbered, share NATS messages ("…n.TAG.q") while the readers that
// send them have more to handle, and the receiving node reports back
// ("…n.TAG.r") at the end of each batch it received the last number it
// handled and the ones that failed (gone, queue full, another tenant, or a
// number that never arrived). The sending node keeps each delivery until it
// is reported on, and answers a failure with the error frame the relay
// would have sent at once. A frame the relay sends a connection because of
// that connection's own frame — a reply, an error frame, whoami — waits
// until the deliveries the connection made before are reported on, so a
// client sees "gone" for a message before the answer to what it sent after.
// It waits in the pipeline, so the gateway's event loop goes on; what the
// connection sends next waits until it is out. The node is a
// gateway.LoopIntegration: the gateway's event loops handle every frame
// that needs no answer from another node, and hand the others to a
// goroutine.
// Any other delivery (to a name, to a node not heard of yet, the Sender's
// own conformance suite) is a NATS request to "…n.TAG.d" answered with the
// gateway's outcome, after the deferred deliveries its sender made before.
//
// Nodes publish heartbeats every 500 ms; a node unheard of for 1.5 s is
// dead (as is one that said goodbye or that no one answers for), and
// messages for its connections are answered gone at once. A message for a
// node not heard of yet — one that has just started, whose first heartbeat
// has not crossed — is sent all the same, as a request: no responder means
// gone. A delivery in flight to a node that dies is answered internal (it
// may have arrived) when the node is found gone (no responder to a request
// or to the ping sent when a delivery has waited 100 ms, or heartbeats
// missed), or after the request timeout. A node that leaves has closed its
// connections before it says goodbye: what it does not report on then ends
// gone. Deliveries from one node to another travel over one NATS
// connection, in order, and a number is never delivered twice: per pair of
// sender and receiver, order is kept, and delivery is at most once.
//
// # Channels
//
// A node takes an interest in a channel's subject
// ("monologue.NAME.c.CHANNEL", the channel base64url-encoded) exactly while
// it has local members, so a publication crosses to each node that has
// members once, and each node fans it out to its own. Memberships of a node
// that dies vanish with its interest. When a node takes an interest, it asks
// every live node for an answer and drops the publications that arrive
// before the last one: each node answers after what it published before it
// saw the question, so those were made before the subscription, and a
// member never gets a publication made before its "subscribed" reply was
// asked for, while every one made after that reply reaches it.
//
// # When NATS is away
//
// A node keeps serving its own connections. What needs another node is
// answered internal at once while the node's NATS connection is down, and
// everything resumes when it returns: the NATS client reconnects and
// restores the node's subscriptions by itself. A node unheard of while
// this node could not hear is not taken for dead: until the nodes have had
// 1.5 s to be heard again, a message for a connection of a node that does
// not answer is internal, not gone.
package cluster
