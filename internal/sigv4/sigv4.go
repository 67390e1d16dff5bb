package sigv4

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// DefaultMaxSkew is how far the signing time may be from the server's clock,
// either way, as AWS allows.
const DefaultMaxSkew = 15 * time.Minute

// DefaultMaxBodyBytes bounds the body read to hash it when
// Verifier.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// timeFormat is the form of X-Amz-Date; dateFormat that of the scope's date.
const (
	timeFormat = "20060102T150405Z"
	dateFormat = "20060102"
)

// Errors of [Verifier.Verify]. The error returned wraps one of them with
// what was wrong; none reveals the secret or the expected signature.
var (
	// ErrMissing: the request has no Authorization header.
	ErrMissing = errors.New("sigv4: missing authentication: the request is not signed with AWS Signature Version 4")
	// ErrMalformed: the Authorization header, X-Amz-Date or the query cannot be parsed.
	ErrMalformed = errors.New("sigv4: malformed signature")
	// ErrUnknownKey: the access key ID is not the one configured.
	ErrUnknownKey = errors.New("sigv4: the access key ID is not recognized")
	// ErrScope: the credential scope names another service, or another date than X-Amz-Date.
	ErrScope = errors.New("sigv4: credential scope does not match")
	// ErrExpired: the signing time is too far from the server's clock.
	ErrExpired = errors.New("sigv4: signature expired or not yet valid")
	// ErrPayload: X-Amz-Content-Sha256 is not the hash of the body.
	ErrPayload = errors.New("sigv4: the body does not match its signed hash")
	// ErrMismatch: the signature is not the one the secret key gives.
	ErrMismatch = errors.New("sigv4: the signature does not match: check the secret access key and the signing method")
	// ErrBodyTooLarge: the body is over MaxBodyBytes, so it was not read.
	ErrBodyTooLarge = errors.New("sigv4: request body too large")
)

// Verifier checks requests signed with one access key for one service, in
// any region. Its fields are read-only once Verify is in use; a Verifier is
// safe for concurrent use.
type Verifier struct {
	// AccessKeyID and SecretAccessKey are the one credential accepted. Both
	// are required.
	AccessKeyID     string
	SecretAccessKey string
	// Service is the service the credential scope must name, e.g.
	// "execute-api". Required.
	Service string
	// MaxSkew is how far X-Amz-Date may be from Now, either way. Zero:
	// DefaultMaxSkew (15 minutes).
	MaxSkew time.Duration
	// MaxBodyBytes bounds the body Verify reads to hash it. Zero:
	// DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Now returns the current time. Nil: time.Now.
	Now func() time.Time
}

// authorization is the parsed Authorization header.
type authorization struct {
	accessKeyID   string
	date          string // scope date, YYYYMMDD
	region        string
	service       string
	signedHeaders []string
	signature     []byte // decoded from hex
}

// Verify checks r's signature. It reads the body (at most MaxBodyBytes) to
// hash it and replaces r.Body with what it read, so a handler can read it
// again; it does so only once the checks that need no body have passed. It
// returns nil when the signature is valid, and otherwise an error matching
// one of the package's sentinel errors.
func (v *Verifier) Verify(r *http.Request) error {
	if v.AccessKeyID == "" || v.SecretAccessKey == "" || v.Service == "" {
		return errors.New("sigv4: Verifier needs AccessKeyID, SecretAccessKey and Service")
	}
	header := r.Header.Values("Authorization")
	if len(header) == 0 {
		return ErrMissing
	}
	if len(header) > 1 {
		return fmt.Errorf("%w: more than one Authorization header", ErrMalformed)
	}
	auth, err := parseAuthorization(header[0])
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare([]byte(auth.accessKeyID), []byte(v.AccessKeyID)) != 1 {
		return fmt.Errorf("%w: %q", ErrUnknownKey, auth.accessKeyID)
	}
	if auth.service != v.Service {
		return fmt.Errorf("%w: service %q, want %q", ErrScope, auth.service, v.Service)
	}
	if !slices.Contains(auth.signedHeaders, "host") || !slices.Contains(auth.signedHeaders, "x-amz-date") {
		return fmt.Errorf("%w: host and x-amz-date must be signed headers", ErrMalformed)
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		return fmt.Errorf("%w: X-Amz-Date %q is not of the form %s", ErrMalformed, amzDate, timeFormat)
	}
	if auth.date != signedAt.Format(dateFormat) {
		return fmt.Errorf("%w: scope date %s, X-Amz-Date %s", ErrScope, auth.date, amzDate)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = DefaultMaxSkew
	}
	current := now()
	if d := current.Sub(signedAt); d > skew || d < -skew {
		return fmt.Errorf("%w: signed at %s, server time %s (%s allowed either way)", ErrExpired, amzDate, current.UTC().Format(timeFormat), skew)
	}
	canonicalQuery, err := canonicalQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	payloadHash, err := v.payloadHash(r)
	if err != nil {
		return err
	}

	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery,
		canonicalHeaders(r, auth.signedHeaders),
		strings.Join(auth.signedHeaders, ";"),
		payloadHash,
	}, "\n")
	scope := auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request"
	stringToSign := Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hexHash([]byte(canonical))
	key := signingKey(v.SecretAccessKey, auth.date, auth.region, auth.service)
	if !hmac.Equal(hmacSHA256(key, []byte(stringToSign)), auth.signature) {
		return ErrMismatch
	}
	return nil
}

// parseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b, Signature=HEX
func parseAuthorization(header string) (authorization, error) {
	var auth authorization
	algorithm, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || algorithm != Algorithm {
		return auth, fmt.Errorf("%w: Authorization is not %s", ErrMalformed, Algorithm)
	}
	var credential, signedHeaders, signature string
	for part := range strings.SplitSeq(rest, ",") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return auth, fmt.Errorf("%w: Authorization component %q", ErrMalformed, part)
		}
		switch name {
		case "Credential":
			credential = value
		case "SignedHeaders":
			signedHeaders = value
		case "Signature":
			signature = value
		}
	}
	if credential == "" || signedHeaders == "" || signature == "" {
		return auth, fmt.Errorf("%w: Authorization needs Credential, SignedHeaders and Signature", ErrMalformed)
	}
	// The key ID may not contain "/", so the scope is the last four parts.
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[0] == "" || parts[4] != "aws4_request" {
		return auth, fmt.Errorf("%w: Credential is not KEY/DATE/REGION/SERVICE/aws4_request", ErrMalformed)
	}
	auth.accessKeyID, auth.date, auth.region, auth.service = parts[0], parts[1], parts[2], parts[3]
	auth.signedHeaders = strings.Split(signedHeaders, ";")
	for _, h := range auth.signedHeaders {
		if h == "" || h != strings.ToLower(h) {
			return auth, fmt.Errorf("%w: SignedHeaders %q", ErrMalformed, signedHeaders)
		}
	}
	var err error
	if auth.signature, err = hex.DecodeString(signature); err != nil || len(auth.signature) != sha256.Size {
		return auth, fmt.Errorf("%w: Signature is not 64 hexadecimal digits", ErrMalformed)
	}
	return auth, nil
}

// payloadHash returns the hex SHA-256 of the body, which X-Amz-Content-Sha256
// must equal when present (a payload left unsigned is refused). It reads the
// body, at most MaxBodyBytes of it, and puts back what it read.
func (v *Verifier) payloadHash(r *http.Request) (string, error) {
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if r.ContentLength > limit {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrBodyTooLarge, r.ContentLength, limit)
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			return "", fmt.Errorf("sigv4: read the body: %w", err)
		}
		if int64(len(body)) > limit {
			return "", fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, limit)
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	sum := hexHash(body)
	if declared := r.Header.Get("X-Amz-Content-Sha256"); declared != "" && declared != sum {
		return "", fmt.Errorf("%w: X-Amz-Content-Sha256 %q", ErrPayload, declared)
	}
	return sum, nil
}

// canonicalURI is the request's escaped path (as it came on the wire, so an
// escaped "/" in a segment stays escaped) escaped once more, as every
// service but S3 signs it: each byte other than A-Z a-z 0-9 - . _ ~ and "/"
// becomes %XX.
func canonicalURI(u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		return "/"
	}
	var b strings.Builder
	b.Grow(len(path) + len(path)/2)
	for i := 0; i < len(path); i++ {
		c := path[i]
		if unreserved(c) || c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonicalQuery encodes each name and value (RFC 3986, a space as %20) and
// sorts the pairs after encoding.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("%w: query: %w", ErrMalformed, err)
	}
	type pair struct{ name, value string }
	var pairs []pair
	for name, list := range values {
		for _, value := range list {
			pairs = append(pairs, pair{queryEscape(name), queryEscape(value)})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.value, b.value))
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.name)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String(), nil
}

func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// canonicalHeaders writes "name:value\n" for each signed header, in the
// order signed: values trimmed, runs of spaces made one, several values
// joined by commas. net/http moves Host and, for a chunked body,
// Content-Length out of the header map; they are read from the request.
func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var values []string
		switch {
		case name == "host":
			values = []string{r.Host}
		case name == "content-length" && len(r.Header.Values(name)) == 0 && r.ContentLength >= 0:
			values = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			values = r.Header.Values(name)
		}
		b.WriteString(name)
		b.WriteByte(':')
		for i, value := range values {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(collapseSpaces(value))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// collapseSpaces trims spaces at both ends and makes every run of spaces one.
func collapseSpaces(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// signingKey derives the key of one day, region and service from the secret.
func signingKey(secret, date, region, service string) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), []byte(date))
	key = hmacSHA256(key, []byte(region))
	key = hmacSHA256(key, []byte(service))
	return hmacSHA256(key, []byte("aws4_request"))
}

func hmacSHA256(key, data []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(data)
	return h.Sum(nil)
}

func hexHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}
