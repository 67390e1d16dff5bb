package monologue

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/monologue-go/monologue/wire"
)

// Errors the gateway reports in error frames. They are the [wire] sentinels,
// so errors.Is(err, monologue.ErrGone) matches an error that came off the
// wire with the code "gone", whatever its message.
var (
	ErrBadRequest      = wire.ErrBadRequest      // the gateway could not parse or route a frame
	ErrUnknownAction   = wire.ErrUnknownAction   // the gateway does not know the frame's action
	ErrGone            = wire.ErrGone            // the target connection does not exist (any more)
	ErrPayloadTooLarge = wire.ErrPayloadTooLarge // a frame is over the gateway's size limit
	ErrRateLimited     = wire.ErrRateLimited     // the sender or the target is over its rate (retryable)
	ErrLimitExceeded   = wire.ErrLimitExceeded   // a per-connection cap was reached (not retryable)
	ErrForbidden       = wire.ErrForbidden       // wrong API key, or a target of another tenant
	ErrInternal        = wire.ErrInternal        // the gateway failed (retryable)
)

// Errors of the client itself and of the RPC convention.
var (
	// ErrClosed is returned by every operation after Close, and fails the
	// calls that were waiting when Close was called.
	ErrClosed = errors.New("monologue: client closed")
	// ErrDisconnected fails the calls in flight when the connection drops,
	// and operations attempted while the client is reconnecting.
	ErrDisconnected = errors.New("monologue: disconnected")
	// ErrNotFound matches a call whose peer has no handler for the method
	// (the RPC error code "not_found"). A handler may return it to answer
	// with not_found itself.
	ErrNotFound = errors.New("monologue: method not found")
	// ErrHandler matches a call whose handler returned an error or panicked
	// (the RPC error code "handler_error").
	ErrHandler = errors.New("monologue: handler failed")
	// ErrTooManyHandlers is returned by Handle when Options.MaxHandlers
	// methods already have a handler.
	ErrTooManyHandlers = errors.New("monologue: too many handlers")
)

// RPC error codes carried in the error of an ERR reply. A peer may also use
// one of the [wire] codes, such as "rate_limited" when it is overloaded.
const (
	CodeNotFound     = "not_found"     // the peer has no handler for the method
	CodeHandlerError = "handler_error" // the handler returned an error or panicked
)

// RemoteError is a call's failure as reported by the called peer in an ERR
// reply. errors.Is matches it against [ErrNotFound] for "not_found",
// [ErrHandler] for "handler_error", and the wire sentinels ([ErrRateLimited],
// …) for their codes.
type RemoteError struct {
	Peer    string // connection ID of the called peer
	Method  string // the method called
	Code    string // the error code, e.g. "not_found" or "handler_error"
	Message string // the peer's description of the failure
}

// Error returns `monologue: call "METHOD" on PEER: CODE: MESSAGE`.
func (e *RemoteError) Error() string {
	var b strings.Builder
	b.WriteString("monologue: call ")
	b.Write(wire.AppendString(nil, e.Method))
	b.WriteString(" on ")
	b.WriteString(e.Peer)
	b.WriteString(": ")
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is the sentinel of e's code.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == CodeNotFound
	case ErrHandler:
		return e.Code == CodeHandlerError
	}
	if t, ok := target.(*wire.Error); ok {
		return string(t.Code) == e.Code
	}
	return false
}

// opError wraps an error once at the package boundary with the operation
// that failed: "monologue: OP: CAUSE", where CAUSE loses its own
// "monologue: " prefix so that it is not said twice.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "monologue: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "monologue: ")
}

func (e *opError) Unwrap() error { return e.err }

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}

// timeoutError is a call that got no reply within Options.CallTimeout. It
// matches context.DeadlineExceeded.
type timeoutError struct{ after time.Duration }

func (e *timeoutError) Error() string {
	return "no reply within " + e.after.String() + " (Options.CallTimeout): " + context.DeadlineExceeded.Error()
}

func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// contextError explains why a wait ended with the context.
func contextError(ctx context.Context) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		return &waitError{what: "no reply before the context's deadline", err: err}
	}
	return err
}

type waitError struct {
	what string
	err  error
}

func (e *waitError) Error() string { return e.what + ": " + e.err.Error() }
func (e *waitError) Unwrap() error { return e.err }
