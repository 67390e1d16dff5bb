package awslambda

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// PublishRouteKey is the HTTP API route of server-side publish.
const PublishRouteKey = "POST /channels/{channel}"

// APIKeyHeader carries the publish key, as API Gateway names API keys.
const APIKeyHeader = "x-api-key"

// HTTPHandler serves HTTP API (payload format 2.0) events for
// POST /channels/{channel}: with the right x-api-key, the body is delivered
// to every subscriber of the channel as {"channel":C,"payload":BODY}. It
// answers 200, 400 (bad channel or body), 403 (wrong or missing key, or no
// key configured), 404 (another route), 413 (over the size limit) or 500,
// each with a JSON body {"message":…}; errors also carry x-amzn-ErrorType.
// It is safe for concurrent use.
type HTTPHandler struct {
	relay *relay.Relay
	key   []byte
	log   *slog.Logger
}

// NewHTTPHandler returns an HTTPHandler for r that accepts publishKey; an
// empty publishKey refuses every request. log nil: slog.Default().
func NewHTTPHandler(r *relay.Relay, publishKey string, log *slog.Logger) *HTTPHandler {
	if log == nil {
		log = slog.Default()
	}
	return &HTTPHandler{relay: r, key: []byte(publishKey), log: log}
}

// Serve handles one HTTP API event. It never returns an error: every
// failure is an HTTP status, with the error type in x-amzn-ErrorType as API
// Gateway and the gateway's own HTTP publish answer.
func (h *HTTPHandler) Serve(ctx context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	channel, ok := publishChannel(&req)
	if !ok {
		return httpError(http.StatusNotFound, "NotFoundException", "Not Found"), nil
	}
	if !h.authorized(req.Headers) {
		return httpError(http.StatusForbidden, "ForbiddenException", "Forbidden"), nil
	}
	body := []byte(req.Body)
	if req.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(req.Body)
		if err != nil {
			return httpError(http.StatusBadRequest, "BadRequestException", "body is not valid base64"), nil
		}
		body = decoded
	}
	if !utf8.Valid(body) {
		return httpError(http.StatusBadRequest, "BadRequestException", "body is not valid UTF-8"), nil
	}
	err := h.relay.Broadcast(ctx, "", channel, wire.BodyPayload(body))
	if err == nil {
		return httpResponse(http.StatusOK, "published", ""), nil
	}
	var werr *wire.Error
	if !errors.As(err, &werr) || werr.Code == wire.CodeInternal {
		h.log.ErrorContext(ctx, "http publish", "channel", channel, "err", err)
		return httpError(http.StatusInternalServerError, "InternalServerErrorException", "Internal server error"), nil
	}
	info := werr.Code.Info()
	message := werr.Message
	if message == "" {
		message = string(werr.Code)
	}
	return httpError(info.HTTPStatus, info.AWSType, message), nil
}

// publishChannel returns the channel of a publish request: the path
// parameter of the route POST /channels/{channel}, or, for a $default or
// proxy route, the escaped path segment after /channels/.
func publishChannel(req *events.APIGatewayV2HTTPRequest) (string, bool) {
	if req.RouteKey == PublishRouteKey {
		channel, ok := req.PathParameters["channel"]
		return channel, ok
	}
	if req.RequestContext.HTTP.Method != http.MethodPost {
		return "", false
	}
	escaped, ok := strings.CutPrefix(req.RawPath, "/channels/")
	if !ok || escaped == "" || strings.Contains(escaped, "/") {
		return "", false
	}
	channel, err := url.PathUnescape(escaped)
	if err != nil {
		return "", false
	}
	return channel, true
}

// authorized compares the request's key with the publish key in constant time.
func (h *HTTPHandler) authorized(headers map[string]string) bool {
	if len(h.key) == 0 {
		return false
	}
	key, ok := headers[APIKeyHeader]
	if !ok {
		for name, value := range headers {
			if strings.EqualFold(name, APIKeyHeader) {
				key, ok = value, true
				break
			}
		}
	}
	return ok && subtle.ConstantTimeCompare([]byte(key), h.key) == 1
}

func httpError(status int, awsType, message string) events.APIGatewayV2HTTPResponse {
	return httpResponse(status, message, awsType)
}

// httpResponse is {"message":MESSAGE} with status, and awsType in
// x-amzn-ErrorType when not empty.
func httpResponse(status int, message, awsType string) events.APIGatewayV2HTTPResponse {
	body := wire.AppendString([]byte(`{"message":`), message)
	body = append(body, '}')
	headers := map[string]string{"content-type": "application/json"}
	if awsType != "" {
		headers["x-amzn-errortype"] = awsType
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: headers, Body: string(body)}
}
