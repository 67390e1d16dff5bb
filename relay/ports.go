package relay

import (
	"context"
	"fmt"

	"github.com/monologue-go/monologue/wire"
)

// The relay reaches the world only through the ports in this file. Each has
// a conformance suite in package relaytest that every implementation passes:
// the gateway's connection table and API Gateway's management API (Sender);
// memory and DynamoDB (Channels).

// Delivery is one frame for one connection.
type Delivery struct {
	// To is the connection the frame is for.
	To string
	// Tenant is the tenant of the connection on whose behalf the frame is
	// sent ("" when the server has one tenant). The side that holds To
	// refuses a delivery whose tenant is not To's with an error matching
	// [wire.ErrForbidden], so tenants stay apart even when To lives on
	// another node, where only that node knows its tenant.
	Tenant string
	// Frame is the text frame to deliver. The Sender must not keep it after
	// Send returns.
	Frame []byte
	// From is the connection whose frame caused the delivery, "" when none
	// did (an HTTP publish, an event). A reply or an error frame has From
	// equal to To.
	From string
	// ID is the id of the frame that caused the delivery, for an error
	// frame about it. The Sender must not keep it after Send returns.
	ID []byte
	// Deferrable says that the relay can be told of the delivery's failure
	// after Send has returned (see [Deferrer]).
	Deferrable bool
}

// A Deferrer is told of the failure of a deferrable delivery that its
// Sender returned from before it knew the outcome, as a node does that
// hands a frame to the node holding its target without waiting for an
// answer. Such a Sender keeps each connection's order: a frame the relay
// sends a connection because of its own frame (From equal to To) comes
// after the error frames about the deliveries that connection caused
// before. *Relay is a Deferrer.
type Deferrer interface {
	// Undelivered answers d.From as the relay would have had Send returned
	// err for d.
	Undelivered(ctx context.Context, d Delivery, err error)
}

// Sender posts a frame to a connection, like API Gateway's PostToConnection.
// It returns an error matching [wire.ErrGone] when the connection does not
// exist, [wire.ErrPayloadTooLarge] when the frame is over its limit,
// [wire.ErrRateLimited] when the connection's send queue is full, and
// [wire.ErrForbidden] when the connection belongs to another tenant. Send
// must not block on a slow receiver, and must not retain d.Frame after it
// returns.
type Sender interface {
	Send(ctx context.Context, d Delivery) error
}

// Channels stores channel subscriptions. Channel names reach it already
// qualified by tenant, so a store knows nothing of tenants. Implementations
// must be safe for concurrent use.
type Channels interface {
	// Subscribe adds connectionID to channel; subscribing twice is not an error.
	Subscribe(ctx context.Context, channel, connectionID string) error
	// Unsubscribe removes connectionID from channel; removing an absent one is not an error.
	Unsubscribe(ctx context.Context, channel, connectionID string) error
	// Members calls fn with the channel's subscribers, a page at a time,
	// stopping at the first error fn returns. fn must not call back into
	// the store; it may keep no reference to the page after it returns.
	Members(ctx context.Context, channel string, fn func(connectionIDs []string) error) error
	// DropConnection removes connectionID from every channel, and returns
	// the channels it was removed from (for presence events).
	DropConnection(ctx context.Context, connectionID string) (channels []string, err error)
}

// Names stores which connections hold which names. Names reach it already
// qualified by tenant, as channels do. Implementations must be safe for
// concurrent use.
type Names interface {
	// Claim makes c.ConnectionID a holder of c.Name; claiming twice is not
	// an error. With c.Exclusive, every other holder loses the name, and
	// Claim returns them, for the relay to tell; a store that learns of a
	// loss later (a concurrent claim on another node) tells the loser
	// itself. It returns an error matching wire.ErrLimitExceeded when the
	// connection holds as many names as it may.
	Claim(ctx context.Context, c Claim) (released []string, err error)
	// Release makes connectionID no longer hold name; releasing a name it
	// does not hold is not an error.
	Release(ctx context.Context, name, connectionID string) error
	// Holders returns at most limit holders of name, in no particular
	// order, and how many there are in all.
	Holders(ctx context.Context, name string, limit int) (holders []string, count int, err error)
	// DropConnection releases every name connectionID holds.
	DropConnection(ctx context.Context, connectionID string) error
}

// Claim is a connection's claim of a name.
type Claim struct {
	// Name is the name as the store knows it (qualified by tenant).
	Name string
	// Label is the name as its clients know it, and Tenant the claimer's
	// tenant, for the notices a store sends itself.
	Label, Tenant string
	ConnectionID  string
	Exclusive     bool
}

// Publication is one frame for every subscriber of a channel.
type Publication struct {
	// Channel is the channel as the store names it (qualified by tenant).
	Channel string
	// Tenant is the publisher's tenant, for the deliveries.
	Tenant string
	// Skip is a connection that must not receive the frame (the publisher
	// itself); "" skips nobody.
	Skip string
	// Frame is the text frame to deliver, not retained after Publish returns.
	Frame []byte
	// Member is set on a presence event, a frame for the watchers of a
	// channel: the connection that joined (Joined) or left it. A store
	// spread over nodes keeps track of the members of other nodes with it,
	// so that it can tell its watchers when a node that held some dies.
	Member string
	Joined bool
	// Name is the channel's name as its clients know it, for the events a
	// store makes itself.
	Name string
}

// ChannelPublisher is implemented by a Channels store that delivers a
// publication itself. The relay uses it when the store has it, instead of
// reading the members and sending to each: a store spread over several
// nodes sends the frame once to each node that has members, and each node
// fans it out to its own. Publish returns once the frame is handed on;
// deliveries that fail for a member (gone, queue full) are the store's to
// handle, and do not fail the publication. The memory and DynamoDB stores do
// not implement it: for them, members and sends are the publication.
type ChannelPublisher interface {
	Publish(ctx context.Context, p Publication) error
}

// Identity describes the client behind a connection.
type Identity struct {
	SourceIP  string
	UserAgent string
	// Tenant isolates connections: those of different tenants cannot message
	// each other, and channel names are per tenant. "" is the only tenant
	// when the server has one API key.
	Tenant string
}

// Event is one thing that happened on a connection.
type Event struct {
	ConnectionID string
	// Route is the route key: wire.RouteConnect, wire.RouteDisconnect,
	// wire.RouteDefault or one of wire.Actions.
	Route string
	// Body is the frame as the client sent it (nil for connect and disconnect).
	Body []byte
	// Frame, when not nil, is Body already parsed, so it is not parsed twice.
	Frame    *wire.Frame
	Identity Identity
}

// ErrOtherTenant is the error a Sender returns for a delivery to
// connectionID from a tenant that is not the connection's. It matches
// [wire.ErrForbidden].
func ErrOtherTenant(connectionID string) error {
	return wire.NewError(wire.CodeForbidden, "connection "+quote(connectionID)+" belongs to another tenant")
}

// ErrNameLimit is the error a Names store returns when a connection that
// holds max names claims another. It matches [wire.ErrLimitExceeded].
func ErrNameLimit(max int) error {
	return wire.NewError(wire.CodeLimitExceeded, fmt.Sprintf("a connection may hold at most %d names", max))
}

// ErrChannelLimit is the error a Channels store returns when a connection
// that has joined max channels subscribes to another. It matches
// [wire.ErrLimitExceeded].
func ErrChannelLimit(max int) error {
	return wire.NewError(wire.CodeLimitExceeded, fmt.Sprintf("a connection may join at most %d channels", max))
}
