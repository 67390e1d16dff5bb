package awslambda

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// Handler serves API Gateway WebSocket events for every route ($connect,
// $disconnect, $default and each action of wire.Actions) by handing them to
// a relay. It is safe for concurrent use.
type Handler struct {
	relay *relay.Relay
	log   *slog.Logger
}

// NewHandler returns a Handler for r. Its Sender should be a [*Sender]
// without a fixed endpoint or with one; Handler tells it the endpoint of
// each event. log nil: slog.Default().
func NewHandler(r *relay.Relay, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{relay: r, log: log}
}

// Serve handles one WebSocket event. It answers 200, except on $connect
// when the relay fails, where it answers 500 so that API Gateway refuses the
// connection. It never returns an error: one would make API Gateway report
// an internal error to the client, which the relay has already told.
func (h *Handler) Serve(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	status := h.serve(ctx, newWebSocketEvent(&req))
	return events.APIGatewayProxyResponse{StatusCode: status}, nil
}

// serve hands ev to the relay and returns the status to answer.
func (h *Handler) serve(ctx context.Context, ev *webSocketEvent) int {
	rc := &ev.RequestContext
	ctx = withEvent(ctx, &eventInfo{endpoint: ev.managementEndpoint(), connectionID: rc.ConnectionID})
	var body []byte
	switch {
	case rc.RouteKey == wire.RouteConnect || rc.RouteKey == wire.RouteDisconnect:
	case ev.IsBase64Encoded:
		decoded, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			// Not a frame the relay can parse: it answers bad_request.
			decoded = []byte{0}
		}
		body = decoded
	default:
		body = []byte(ev.Body)
	}
	err := h.relay.Handle(ctx, relay.Event{
		ConnectionID: rc.ConnectionID,
		Route:        rc.RouteKey,
		Body:         body,
		Identity:     relay.Identity{SourceIP: rc.Identity.SourceIP, UserAgent: rc.Identity.UserAgent},
	})
	if err == nil {
		return http.StatusOK
	}
	h.log.ErrorContext(ctx, "handle event", "route", rc.RouteKey, "err", fmt.Errorf("awslambda: %w", err))
	if rc.RouteKey == wire.RouteConnect {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}
