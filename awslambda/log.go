package awslambda

import (
	"context"
	"io"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// NewLogHandler wraps next so that every record logged with the context of
// an invocation carries "requestId" (Lambda's request ID) and, in a
// WebSocket event, "connectionId".
func NewLogHandler(next slog.Handler) slog.Handler {
	return &logHandler{next: next}
}

// NewLogger returns a logger writing JSON to w (stderr in Lambda) at level,
// through [NewLogHandler].
func NewLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(NewLogHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}

type logHandler struct {
	next slog.Handler
}

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	lc, hasRequest := lambdacontext.FromContext(ctx)
	info := eventFrom(ctx)
	if hasRequest || info != nil {
		r = r.Clone()
	}
	if hasRequest {
		r.AddAttrs(slog.String("requestId", lc.AwsRequestID))
	}
	if info != nil && info.connectionID != "" {
		r.AddAttrs(slog.String("connectionId", info.connectionID))
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(attrs)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name)}
}
