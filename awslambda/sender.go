package awslambda

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// SenderOptions configures a [Sender]. The zero value sends to the endpoint
// of the event being handled.
type SenderOptions struct {
	// Endpoint, when not empty, is the management API every frame is posted
	// to, with its stage: "https://ID.execute-api.REGION.amazonaws.com/STAGE",
	// or "http://127.0.0.1:PORT/STAGE" for the local emulation. Empty: the
	// endpoint of the WebSocket event being handled, https://{domainName}/{stage}.
	// Sends outside a WebSocket event (HTTP publish) need it.
	Endpoint string
	// ClientOptions are applied to every management API client after the
	// endpoint is set. Nil: none.
	ClientOptions []func(*apigatewaymanagementapi.Options)
}

// Sender is a relay.Sender that posts frames with API Gateway's
// PostToConnection. It keeps one client per endpoint. Its clients retry
// network and 5xx errors as the SDK does, but not LimitExceededException.
// It is safe for concurrent use.
type Sender struct {
	aws     aws.Config
	opts    SenderOptions
	clients sync.Map // endpoint -> *apigatewaymanagementapi.Client
}

var _ relay.Sender = (*Sender)(nil)

// NewSender returns a Sender whose clients use cfg (region, credentials,
// HTTP client, retries).
func NewSender(cfg aws.Config, opts SenderOptions) *Sender {
	return &Sender{aws: cfg, opts: opts}
}

// Send posts d.Frame to connection d.To. The error matches wire.ErrGone,
// wire.ErrPayloadTooLarge, wire.ErrRateLimited or wire.ErrForbidden for the
// management API's GoneException (410), PayloadTooLargeException (413),
// LimitExceededException (429) and ForbiddenException (403), and wraps the
// SDK's error too. d.Tenant is not checked: an API Gateway WebSocket API is
// one tenant, so every connection it can reach shares the sender's.
func (s *Sender) Send(ctx context.Context, d relay.Delivery) error {
	client, err := s.client(ctx)
	if err != nil {
		return err
	}
	_, err = client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: &d.To,
		Data:         d.Frame,
	})
	if err != nil {
		return sendError(d.To, err)
	}
	return nil
}

// Client returns the management API client for the endpoint Send would use
// in ctx, for calls other than PostToConnection (GetConnection,
// DeleteConnection).
func (s *Sender) Client(ctx context.Context) (*apigatewaymanagementapi.Client, error) {
	return s.client(ctx)
}

func (s *Sender) client(ctx context.Context) (*apigatewaymanagementapi.Client, error) {
	endpoint := s.opts.Endpoint
	if endpoint == "" {
		endpoint = endpointFrom(ctx)
	}
	if endpoint == "" {
		return nil, errors.New("awslambda: no management API endpoint: set SenderOptions.Endpoint for sends outside a WebSocket event")
	}
	if c, ok := s.clients.Load(endpoint); ok {
		return c.(*apigatewaymanagementapi.Client), nil
	}
	c := apigatewaymanagementapi.NewFromConfig(s.aws, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(noRetryOnLimit)}, so.Retryables...)
		})
		for _, fn := range s.opts.ClientOptions {
			fn(o)
		}
	})
	actual, _ := s.clients.LoadOrStore(endpoint, c)
	return actual.(*apigatewaymanagementapi.Client), nil
}

// noRetryOnLimit stops the SDK from retrying a LimitExceededException with
// back-off: the relay drops a frame to a rate-limited connection instead of
// holding up a publish for seconds.
func noRetryOnLimit(err error) aws.Ternary {
	var limited *types.LimitExceededException
	if errors.As(err, &limited) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
}

// sendError maps the management API's typed errors onto the protocol's.
func sendError(connectionID string, err error) error {
	var (
		gone      *types.GoneException
		tooLarge  *types.PayloadTooLargeException
		limited   *types.LimitExceededException
		forbidden *types.ForbiddenException
		werr      *wire.Error
	)
	switch {
	case errors.As(err, &gone):
		werr = wire.NewError(wire.CodeGone, "connection is gone")
	case errors.As(err, &tooLarge):
		werr = wire.NewError(wire.CodePayloadTooLarge, "frame exceeds API Gateway's size limit")
	case errors.As(err, &limited):
		werr = wire.NewError(wire.CodeRateLimited, "API Gateway's rate limit exceeded")
	case errors.As(err, &forbidden):
		werr = wire.NewError(wire.CodeForbidden, "API Gateway refused the post")
	default:
		return fmt.Errorf("awslambda: post to connection %s: %w", connectionID, err)
	}
	return fmt.Errorf("awslambda: post to connection %s: %w: %w", connectionID, werr, err)
}

// eventKey carries the eventInfo of the event being handled.
type eventKey struct{}

// eventInfo is what the Sender and the log handler learn from the event.
type eventInfo struct {
	endpoint     string // management API, https://{domainName}/{stage}
	connectionID string
}

func withEvent(ctx context.Context, info *eventInfo) context.Context {
	return context.WithValue(ctx, eventKey{}, info)
}

func eventFrom(ctx context.Context) *eventInfo {
	info, _ := ctx.Value(eventKey{}).(*eventInfo)
	return info
}

func endpointFrom(ctx context.Context) string {
	if info := eventFrom(ctx); info != nil {
		return info.endpoint
	}
	return ""
}
