package awslambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
)

// Dispatch is the function's one entry point for both APIs and the fan-out
// queue: it takes an event's raw JSON, tells a WebSocket event
// (requestContext.connectionId and routeKey) from an HTTP API event
// (version "2.0") and an SQS event (records from "aws:sqs"), and hands it
// to WebSocket, HTTP or Worker. It implements lambda.Handler, so lambda.Start(d) runs
// it without reflection. It is safe for concurrent use.
type Dispatch struct {
	WebSocket *Handler
	HTTP      *HTTPHandler // nil: HTTP API events are answered 404
	Worker    *Worker      // nil: SQS events are an error
}

// errUnknownEvent reports an event of neither shape.
var errUnknownEvent = errors.New("awslambda: event is neither an API Gateway WebSocket event, an HTTP API 2.0 event nor an SQS event")

// Responses to WebSocket events, encoded once.
var (
	responseOK    = []byte(`{"statusCode":200}`)
	responseError = []byte(`{"statusCode":500}`)
)

// dispatchEvent is the union of the fields Dispatch needs from both shapes:
// an HTTP API event's version, and the part of a WebSocket event the relay
// needs. Decoding into it skips the rest of a WebSocket event.
type dispatchEvent struct {
	Version string `json:"version"`
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	webSocketEvent
}

// Invoke handles one event given as JSON and returns the response as JSON.
func (d *Dispatch) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var ev dispatchEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("awslambda: decode event: %w", err)
	}
	switch {
	case len(ev.Records) > 0 && ev.Records[0].EventSource == "aws:sqs" && d.Worker != nil:
		var sqsEvent events.SQSEvent
		if err := json.Unmarshal(payload, &sqsEvent); err != nil {
			return nil, fmt.Errorf("awslambda: decode SQS event: %w", err)
		}
		resp, err := d.Worker.Handle(ctx, sqsEvent)
		if err != nil {
			return nil, err
		}
		out, err := json.Marshal(resp)
		if err != nil {
			return nil, fmt.Errorf("awslambda: encode SQS response: %w", err)
		}
		return out, nil
	case ev.RequestContext.ConnectionID != "" && ev.RequestContext.RouteKey != "":
		status := d.WebSocket.serve(ctx, &ev.webSocketEvent)
		if status == http.StatusOK {
			return responseOK, nil
		}
		return responseError, nil
	case ev.Version == "2.0":
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, fmt.Errorf("awslambda: decode HTTP API event: %w", err)
		}
		resp := httpError(http.StatusNotFound, "NotFoundException", "Not Found")
		if d.HTTP != nil {
			resp, _ = d.HTTP.Serve(ctx, req)
		}
		out, err := json.Marshal(resp)
		if err != nil {
			return nil, fmt.Errorf("awslambda: encode HTTP response: %w", err)
		}
		return out, nil
	}
	return nil, errUnknownEvent
}
