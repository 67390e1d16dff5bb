// Package sigv4 checks AWS Signature Version 4 on incoming HTTP requests, the
// way API Gateway checks the requests to its @connections management API, so
// that the AWS SDK's clients given a static access key work against a server
// of ours unchanged.
//
// Entry points: a [Verifier] holds the one access key it accepts and the
// service name it expects; [Verifier.Verify] checks the Authorization
// header of a request and returns nil or an error matching one of the
// package's sentinel errors ([ErrMissing], [ErrMalformed], [ErrUnknownKey],
// [ErrScope], [ErrExpired], [ErrPayload], [ErrMismatch], [ErrBodyTooLarge]).
//
// Only the Authorization header form is accepted (not presigned URLs), with
// the X-Amz-Date header signed, for services other than S3: the canonical
// URI is the request's escaped path escaped once more, segment by segment.
package sigv4
