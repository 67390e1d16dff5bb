package wire

import (
	"maps"
	"net/http"
	"slices"
)

// Code is a protocol error code, sent as error.code in an error frame.
type Code string

// The error codes of the protocol.
const (
	CodeBadRequest      Code = "bad_request"
	CodeUnknownAction   Code = "unknown_action"
	CodeGone            Code = "gone"
	CodePayloadTooLarge Code = "payload_too_large"
	CodeRateLimited     Code = "rate_limited"
	CodeForbidden       Code = "forbidden"
	CodeInternal        Code = "internal"
	// CodeLimitExceeded is a hard per-connection cap (channels joined,
	// names held): unlike rate_limited, retrying does not help until the
	// connection gives something up.
	CodeLimitExceeded Code = "limit_exceeded"
)

// CodeInfo describes one error code: whether retrying the same request may
// succeed, and how it maps onto HTTP and API Gateway's error types.
type CodeInfo struct {
	Retryable  bool   // a later retry of the same request may succeed
	HTTPStatus int    // status on the management API and HTTP publish
	AWSType    string // x-amzn-ErrorType, as API Gateway names it
}

// codes is the one table of error codes.
var codes = map[Code]CodeInfo{
	CodeBadRequest:      {false, http.StatusBadRequest, "BadRequestException"},
	CodeUnknownAction:   {false, http.StatusForbidden, "ForbiddenException"},
	CodeGone:            {false, http.StatusGone, "GoneException"},
	CodePayloadTooLarge: {false, http.StatusRequestEntityTooLarge, "PayloadTooLargeException"},
	CodeRateLimited:     {true, http.StatusTooManyRequests, "LimitExceededException"},
	CodeForbidden:       {false, http.StatusForbidden, "ForbiddenException"},
	CodeInternal:        {true, http.StatusInternalServerError, "InternalServerErrorException"},
	CodeLimitExceeded:   {false, http.StatusTooManyRequests, "LimitExceededException"},
}

// Codes returns every code of the table, sorted.
func Codes() []Code { return slices.Sorted(maps.Keys(codes)) }

// Info returns the table entry for c; an unknown code is described as internal.
func (c Code) Info() CodeInfo {
	if info, ok := codes[c]; ok {
		return info
	}
	return codes[CodeInternal]
}

// Known reports whether c is one of the protocol's codes.
func (c Code) Known() bool {
	_, ok := codes[c]
	return ok
}

// Error is a protocol error: a code and a human-readable message. Errors
// compare equal under errors.Is when their codes match, so an error decoded
// from the wire matches the sentinels below.
type Error struct {
	Code    Code
	Message string
}

// Error returns "monologue: CODE: MESSAGE".
func (e *Error) Error() string {
	if e.Message == "" {
		return "monologue: " + string(e.Code)
	}
	return "monologue: " + string(e.Code) + ": " + e.Message
}

// Is matches any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// NewError returns an *Error with the given code and message (a plain
// string: nothing in it is formatted).
func NewError(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Sentinels, one per code, for errors.Is.
var (
	ErrBadRequest      = &Error{Code: CodeBadRequest}
	ErrUnknownAction   = &Error{Code: CodeUnknownAction}
	ErrGone            = &Error{Code: CodeGone}
	ErrPayloadTooLarge = &Error{Code: CodePayloadTooLarge}
	ErrRateLimited     = &Error{Code: CodeRateLimited}
	ErrForbidden       = &Error{Code: CodeForbidden}
	ErrInternal        = &Error{Code: CodeInternal}
	ErrLimitExceeded   = &Error{Code: CodeLimitExceeded}
)

// ErrInvalidUTF8 is the error of a frame that is not valid UTF-8. errors.Is
// matches it with every bad_request: tell it apart with [IsInvalidUTF8].
var ErrInvalidUTF8 = &Error{Code: CodeBadRequest, Message: "frame is not valid UTF-8"}
