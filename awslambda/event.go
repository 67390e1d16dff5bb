package awslambda

import "github.com/aws/aws-lambda-go/events"

// webSocketEvent is the part of an API Gateway WebSocket event
// (events.APIGatewayWebsocketProxyRequest) the relay needs, under the same
// JSON names. It is the one description of that event here: Dispatch
// decodes an event's JSON straight into it, and Handler.Serve copies a
// decoded event into it with newWebSocketEvent.
type webSocketEvent struct {
	Body            string                `json:"body"`
	IsBase64Encoded bool                  `json:"isBase64Encoded"`
	RequestContext  webSocketEventContext `json:"requestContext"`
}

// webSocketEventContext is the part of the event's requestContext the relay
// needs.
type webSocketEventContext struct {
	ConnectionID string `json:"connectionId"`
	RouteKey     string `json:"routeKey"`
	DomainName   string `json:"domainName"`
	Stage        string `json:"stage"`
	Identity     struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"identity"`
}

// newWebSocketEvent takes from req what the relay needs.
func newWebSocketEvent(req *events.APIGatewayWebsocketProxyRequest) *webSocketEvent {
	ev := &webSocketEvent{Body: req.Body, IsBase64Encoded: req.IsBase64Encoded}
	rc, from := &ev.RequestContext, &req.RequestContext
	rc.ConnectionID, rc.RouteKey = from.ConnectionID, from.RouteKey
	rc.DomainName, rc.Stage = from.DomainName, from.Stage
	rc.Identity.SourceIP, rc.Identity.UserAgent = from.Identity.SourceIP, from.Identity.UserAgent
	return ev
}

// managementEndpoint is the @connections API of the API that sent ev.
func (ev *webSocketEvent) managementEndpoint() string {
	rc := &ev.RequestContext
	if rc.DomainName == "" {
		return ""
	}
	if rc.Stage == "" || rc.Stage == "$default" {
		return "https://" + rc.DomainName
	}
	return "https://" + rc.DomainName + "/" + rc.Stage
}
