package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	pathpkg "path"
	"strconv"
	"strings"

	"github.com/monologue-go/monologue/internal/sigv4"
)

// adminService is the service a management request's signature must name:
// API Gateway's, whose @connections API the management listener serves.
const adminService = "execute-api"

// adminGuard is the management listener's front door. That listener can
// read, post to and close every tenant's connections, so before a request
// reaches the routes it must:
//
//   - name the listener in its Host header, so that a web page whose domain
//     an attacker points at a loopback address (DNS rebinding) cannot reach it;
//   - not come from a web page of another origin (Origin, Sec-Fetch-Site), so
//     that a page elsewhere cannot post a "simple" request at it;
//   - when credentials are configured, carry an AWS Signature Version 4 made
//     with them, as API Gateway demands of its @connections API; except for
//     the open paths (health and metrics), and on browser pages HTTP Basic
//     with the same pair does too: the dashboard and the introspection API
//     that it calls, whose requests a browser can only authenticate so.
//     Basic is no weaker a door than the signature for them: the guard's
//     Host and Origin checks come first, so a page of another origin cannot
//     use credentials its browser holds (no cross-site request forgery).
//
// Every refusal is a 403 with x-amzn-ErrorType ForbiddenException (a
// browser page without credentials, or with wrong Basic ones, gets 401, so
// that the browser asks for them).
type adminGuard struct {
	next http.Handler
	log  *slog.Logger

	// anyHost turns the Host check off (AdminHosts holds "*"); hosts are
	// the other AdminHosts entries.
	anyHost bool
	hosts   []hostName

	// verifier is nil when no credentials are configured.
	verifier         *sigv4.Verifier
	keyID, secretKey string

	// open are the paths served without credentials; browser, the paths
	// that accept HTTP Basic as well as a signature, and browserPrefixes
	// the path prefixes that do.
	open, browser   map[string]bool
	browserPrefixes []string
}

// hostName is a host and port, as a Host header names a listener. The host
// is lower case, an IPv6 address without brackets; an empty port matches
// any port.
type hostName struct {
	host, port string
}

// newAdminGuard returns next behind the guard configured by g's options.
// browser lists the paths of pages meant for a browser; one that ends in
// "/*" stands for every path under it ("/api/*": "/api/x", "/api/x/y").
func (g *Gateway) newAdminGuard(next http.Handler, browser ...string) *adminGuard {
	a := &adminGuard{
		next:    next,
		log:     g.log,
		open:    map[string]bool{"/healthz": true, "/metrics": true},
		browser: map[string]bool{},
	}
	for _, path := range browser {
		if prefix, ok := strings.CutSuffix(path, "*"); ok && strings.HasSuffix(prefix, "/") {
			a.browserPrefixes = append(a.browserPrefixes, prefix)
			continue
		}
		a.browser[path] = true
	}
	for _, entry := range g.opts.AdminHosts {
		if entry == "*" {
			a.anyHost = true
			continue
		}
		name, ok := parseHostName(entry, "")
		if !ok {
			g.log.Error("management listener: ignoring AdminHosts entry that is not HOST or HOST:PORT", "entry", entry)
			continue
		}
		a.hosts = append(a.hosts, name)
	}
	a.keyID, a.secretKey = g.opts.AdminAccessKeyID, g.opts.AdminSecretAccessKey
	if a.keyID != "" || a.secretKey != "" {
		if a.keyID == "" || a.secretKey == "" {
			g.log.Error("management listener: only one of AdminAccessKeyID and AdminSecretAccessKey is set; every request that needs a signature will be refused")
		}
		a.verifier = &sigv4.Verifier{
			AccessKeyID:     a.keyID,
			SecretAccessKey: a.secretKey,
			Service:         adminService,
			MaxBodyBytes:    int64(g.opts.MaxMessageSize),
		}
	}
	return a
}

func (a *adminGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.hostAllowed(r) {
		a.refuse(w, r, "Forbidden: the Host header does not name this management listener")
		return
	}
	if reason := a.crossOrigin(r); reason != "" {
		a.refuse(w, r, "Forbidden: "+reason)
		return
	}
	if a.verifier == nil || a.open[r.URL.Path] {
		a.next.ServeHTTP(w, r)
		return
	}
	browser := a.isBrowser(r.URL.EscapedPath())
	if browser && a.basicAuthorized(r) {
		a.next.ServeHTTP(w, r)
		return
	}
	err := a.verifier.Verify(r)
	switch {
	case err == nil:
		a.next.ServeHTTP(w, r)
	case errors.Is(err, sigv4.ErrBodyTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload exceeds the message size limit")
	case browser && (errors.Is(err, sigv4.ErrMissing) || hasBasic(r)):
		// 401, not 403, so that the browser asks for the pair (again).
		w.Header().Set("WWW-Authenticate", `Basic realm="monologue management", charset="UTF-8"`)
		writeError(w, http.StatusUnauthorized, "UnauthorizedException", "Unauthorized: sign in with the management access key ID and secret access key")
	default:
		a.refuse(w, r, strings.TrimPrefix(err.Error(), "sigv4: "))
	}
}

// isBrowser reports whether path, the request's path as sent (escaped),
// is a browser page's. It is the escaped path, so that a connection ID
// with "//" in it (%2F%2F) does not look like a path to clean; dots are
// decoded before the check, so that "/api/%2e%2e/…" is not under /api/.
func (a *adminGuard) isBrowser(path string) bool {
	if a.browser[path] {
		return true
	}
	dotted := dotDecoder.Replace(path)
	if cleaned := pathpkg.Clean(dotted); cleaned != dotted && cleaned+"/" != dotted {
		return false // "/api/../@connections/x" is not under /api/
	}
	for _, prefix := range a.browserPrefixes {
		if strings.HasPrefix(path, prefix) {
			return true
		}
	}
	return false
}

// dotDecoder decodes the escaped dots of a path.
var dotDecoder = strings.NewReplacer("%2e", ".", "%2E", ".")

// refuse answers 403 ForbiddenException and logs why.
func (a *adminGuard) refuse(w http.ResponseWriter, r *http.Request, message string) {
	a.log.InfoContext(r.Context(), "management request refused", "method", r.Method, "path", r.URL.Path,
		"host", r.Host, "remote", r.RemoteAddr, "reason", message)
	writeError(w, http.StatusForbidden, "ForbiddenException", message)
}

// hostAllowed reports whether r's Host header names this listener: the
// address the connection came in on (as net/http's Server records it), any
// loopback name or address with its port when that address is loopback, or
// an AdminHosts entry.
func (a *adminGuard) hostAllowed(r *http.Request) bool {
	return a.namesListener(r, r.Host, defaultPort(r.TLS != nil))
}

// namesListener reports whether hostport (with defaultPort when it has
// none) names the listener r came in on.
func (a *adminGuard) namesListener(r *http.Request, hostport, defaultPort string) bool {
	if a.anyHost {
		return true
	}
	name, ok := parseHostName(hostport, defaultPort)
	if !ok {
		return false
	}
	for _, allowed := range a.hosts {
		if sameHost(name.host, allowed.host) && (allowed.port == "" || allowed.port == name.port) {
			return true
		}
	}
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	localAddr, err := netip.ParseAddrPort(local.String())
	if err != nil || strconv.Itoa(int(localAddr.Port())) != name.port {
		return false
	}
	localIP := localAddr.Addr().Unmap()
	if ip, err := netip.ParseAddr(name.host); err == nil {
		ip = ip.Unmap()
		return ip.WithZone("") == localIP.WithZone("") || ip.IsLoopback() && localIP.IsLoopback()
	}
	return name.host == "localhost" && localIP.IsLoopback()
}

// crossOrigin returns why r comes from a web page of another origin than
// this listener, or "" when it does not. The AWS SDK and other programs
// send neither Origin nor Sec-Fetch-Site.
func (a *adminGuard) crossOrigin(r *http.Request) string {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		return "requests from web pages of another origin are not accepted"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// The listener's own origin is the one the Host header names, which
	// hostAllowed has accepted.
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != scheme || u.User != nil || (u.Path != "" && u.Path != "/") {
		return "requests from web pages of another origin are not accepted"
	}
	from, okFrom := parseHostName(u.Host, defaultPort(r.TLS != nil))
	to, okTo := parseHostName(r.Host, defaultPort(r.TLS != nil))
	if !okFrom || !okTo || !sameHost(from.host, to.host) || from.port != to.port {
		return "requests from web pages of another origin are not accepted"
	}
	return ""
}

// basicAuthorized reports whether r carries HTTP Basic credentials equal to
// the management access key ID (user) and secret access key (password).
// They are compared as hashes, in constant time whatever their lengths.
func (a *adminGuard) basicAuthorized(r *http.Request) bool {
	user, password, ok := r.BasicAuth()
	if !ok || a.keyID == "" || a.secretKey == "" {
		return false
	}
	wantUser, wantPassword := sha256.Sum256([]byte(a.keyID)), sha256.Sum256([]byte(a.secretKey))
	gotUser, gotPassword := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	return subtle.ConstantTimeCompare(gotUser[:], wantUser[:])&subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:]) == 1
}

// hasBasic reports whether r carries HTTP Basic credentials, right or wrong.
func hasBasic(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}

// parseHostName splits HOST[:PORT] (an IPv6 address in brackets), with
// defaultPort when there is no port. It lower-cases the host and writes the
// port in decimal without leading zeros.
func parseHostName(hostport, defaultPort string) (hostName, bool) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, defaultPort
		if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
			host = host[1 : len(host)-1]
		}
	}
	if host == "" || strings.ContainsAny(host, "[]/@ ") {
		return hostName{}, false
	}
	if port == "" {
		port = defaultPort
	}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return hostName{}, false
		}
		port = strconv.FormatUint(n, 10)
	}
	return hostName{host: strings.ToLower(host), port: port}, true
}

// sameHost compares two hosts of parseHostName, as addresses when both are
// IP addresses.
func sameHost(a, b string) bool {
	ipA, errA := netip.ParseAddr(a)
	ipB, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return ipA.Unmap() == ipB.Unmap()
	}
	return a == b
}

func defaultPort(tls bool) string {
	if tls {
		return "443"
	}
	return "80"
}
