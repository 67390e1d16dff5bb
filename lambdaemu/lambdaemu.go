package lambdaemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Invoker invokes a Lambda function with an event payload and returns its
// response payload. lambda.NewHandler(h) satisfies it, and so does the
// Runtime API server that feeds a child bootstrap.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// Options configures an Integration.
type Options struct {
	// WebSocket receives the WebSocket API's events. Required.
	WebSocket Invoker
	// HTTP receives HTTP API events (POST /channels/{channel}). Nil: WebSocket,
	// as in the deployment, where one function serves both APIs.
	HTTP Invoker
	// Replies tells a client "internal" when its event's invocation fails, as
	// API Gateway answers a failed integration. Required.
	Replies relay.Sender
	// ManagementEndpoint is where the function should post to connections,
	// e.g. "http://127.0.0.1:8081"; its host becomes the event's domainName.
	// Required.
	ManagementEndpoint string
	// Stage is the event's stage. Zero: "local".
	Stage string
	// PublishKey is sent as x-api-key on HTTP publish events.
	PublishKey string
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// Integration is a gateway integration backed by a Lambda function.
type Integration struct {
	opts   Options
	domain string
	seq    atomic.Uint64

	mu        sync.Mutex
	connected map[string]int64 // connection ID -> connectedAt (ms)
}

// New returns an Integration.
func New(opts Options) (*Integration, error) {
	if opts.WebSocket == nil || opts.Replies == nil {
		return nil, errors.New("lambdaemu: Options.WebSocket and Options.Replies are required")
	}
	u, err := url.Parse(opts.ManagementEndpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("lambdaemu: management endpoint %q is not a URL", opts.ManagementEndpoint)
	}
	if opts.HTTP == nil {
		opts.HTTP = opts.WebSocket
	}
	if opts.Stage == "" {
		opts.Stage = "local"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Integration{opts: opts, domain: u.Host, connected: make(map[string]int64)}, nil
}

// Handle sends ev to the function as an APIGatewayWebsocketProxyRequest. A
// $connect the function refuses (an error or a status of 400 and up) is
// returned as an error, so the gateway refuses the handshake; a failed
// message invocation is answered to the client with an internal error frame.
func (i *Integration) Handle(ctx context.Context, ev relay.Event) error {
	now := i.opts.Now()
	payload, err := json.Marshal(i.websocketEvent(ev, now))
	if err != nil {
		return fmt.Errorf("lambdaemu: encode event: %w", err)
	}
	out, err := i.opts.WebSocket.Invoke(ctx, payload)
	if err == nil {
		err = statusError(out)
	}
	// A connection ends at $disconnect, or at a $connect the function
	// refused (the gateway then sends no $disconnect).
	if ev.Route == wire.RouteDisconnect || (ev.Route == wire.RouteConnect && err != nil) {
		i.mu.Lock()
		delete(i.connected, ev.ConnectionID)
		i.mu.Unlock()
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("lambdaemu: %s: %w", ev.Route, err)
	if ev.Route == wire.RouteConnect || ev.Route == wire.RouteDisconnect {
		return err
	}
	var id []byte
	if ev.Frame != nil {
		id = ev.Frame.ID
	}
	frame := wire.AppendError(nil, wire.CodeInternal, "Internal server error", id, "")
	_ = i.opts.Replies.Send(ctx, relay.Delivery{To: ev.ConnectionID, Tenant: ev.Identity.Tenant, Frame: frame})
	return err
}

func (i *Integration) websocketEvent(ev relay.Event, now time.Time) events.APIGatewayWebsocketProxyRequest {
	ms := now.UnixMilli()
	i.mu.Lock()
	connectedAt, ok := i.connected[ev.ConnectionID]
	if !ok {
		connectedAt = ms
		if ev.Route == wire.RouteConnect {
			i.connected[ev.ConnectionID] = ms
		}
	}
	i.mu.Unlock()
	eventType := "MESSAGE"
	switch ev.Route {
	case wire.RouteConnect:
		eventType = "CONNECT"
	case wire.RouteDisconnect:
		eventType = "DISCONNECT"
	}
	requestID := i.requestID()
	req := events.APIGatewayWebsocketProxyRequest{
		RequestContext: events.APIGatewayWebsocketProxyRequestContext{
			RouteKey:          ev.Route,
			EventType:         eventType,
			ExtendedRequestID: requestID,
			RequestTime:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			MessageDirection:  "IN",
			Stage:             i.opts.Stage,
			ConnectedAt:       connectedAt,
			RequestTimeEpoch:  ms,
			Identity: events.APIGatewayRequestIdentity{
				SourceIP:  ev.Identity.SourceIP,
				UserAgent: ev.Identity.UserAgent,
			},
			RequestID:    requestID,
			DomainName:   i.domain,
			ConnectionID: ev.ConnectionID,
			APIID:        "local",
		},
		IsBase64Encoded: false,
	}
	switch eventType {
	case "MESSAGE":
		req.RequestContext.MessageID = requestID
		req.Body = string(ev.Body)
	case "CONNECT":
		req.Headers = map[string]string{"Host": i.domain, "User-Agent": ev.Identity.UserAgent}
		req.MultiValueHeaders = map[string][]string{"Host": {i.domain}, "User-Agent": {ev.Identity.UserAgent}}
	case "DISCONNECT":
		req.RequestContext.DisconnectStatusCode = 1000
	}
	return req
}

// Broadcast sends an HTTP API event for POST /channels/{channel}.
func (i *Integration) Broadcast(ctx context.Context, _, channel string, payload []byte) error {
	now := i.opts.Now()
	path := "/channels/" + url.PathEscape(channel)
	requestID := i.requestID()
	req := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "POST /channels/{channel}",
		RawPath:        path,
		Headers:        map[string]string{"content-type": "application/json", "x-api-key": i.opts.PublishKey},
		PathParameters: map[string]string{"channel": channel},
		Body:           string(payload),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "POST /channels/{channel}",
			Stage:      "$default",
			RequestID:  requestID,
			APIID:      "local",
			DomainName: i.domain,
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: "POST", Path: path, Protocol: "HTTP/1.1", SourceIP: "127.0.0.1",
			},
		},
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("lambdaemu: encode publish event: %w", err)
	}
	out, err := i.opts.HTTP.Invoke(ctx, body)
	if err != nil {
		return fmt.Errorf("lambdaemu: publish: %w", err)
	}
	return statusError(out)
}

// statusError turns a proxy response with a status of 400 or more into a
// *wire.Error with the matching code.
func statusError(out []byte) error {
	var resp struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if len(out) == 0 || json.Unmarshal(out, &resp) != nil || resp.StatusCode < 400 {
		return nil
	}
	var msg struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal([]byte(resp.Body), &msg)
	if msg.Message == "" {
		msg.Message = "status " + strconv.Itoa(resp.StatusCode)
	}
	code := wire.CodeInternal
	switch resp.StatusCode {
	case 400:
		code = wire.CodeBadRequest
	case 401, 403:
		code = wire.CodeForbidden
	case 410:
		code = wire.CodeGone
	case 413:
		code = wire.CodePayloadTooLarge
	case 429:
		code = wire.CodeRateLimited
	}
	return wire.NewError(code, msg.Message)
}

func (i *Integration) requestID() string {
	return "local-" + strconv.FormatUint(i.seq.Add(1), 36)
}
