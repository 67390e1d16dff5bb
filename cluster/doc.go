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
// connection, however many connections there are. A delivery is a NATS
// request: the node that holds the target answers with what its gateway's
// Send returned (delivered, gone, queue full, another tenant), so the relay
// answers the sender as on one node. Nodes publish heartbeats every 500 ms;
// a node unheard of for 1.5 s is dead (as is one that said goodbye or that
// no one answers for), and messages for its connections are answered gone at
// once. A message for a node not heard of yet — one that has just started,
// whose first heartbeat has not crossed — is sent all the same: no responder
// means gone. A delivery in flight to a node that dies is not answered: it
// ends, internal, when the node is found gone (a request finds no responder
// — another one, or a ping the request sends when it has waited 100 ms — or
// the node goes unheard of), or after the request timeout. A node that
// leaves has closed its connections before it says goodbye: what it does not
// answer then ends gone. Deliveries from one node to another travel over one
// NATS connection, in order: per pair of sender and receiver, order is kept,
// and delivery is at most once.
//
// # Channels
//
// A node takes an interest in a channel's subject
// ("monologue.NAME.c.CHANNEL", the channel base64url-encoded) exactly while
// it has local members, so a publication crosses to each node that has
// members once, and each node fans it out to its own. Memberships of a node
// that dies vanish with its interest.
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
