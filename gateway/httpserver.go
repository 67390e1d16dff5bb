package gateway

import (
	"log/slog"
	"net/http"
	"time"
)

// DefaultHTTPReadTimeout is the default of Options.HTTPReadTimeout.
const DefaultHTTPReadTimeout = 10 * time.Second

// httpIdleTimeout closes a keep-alive HTTP connection with no request for
// this long.
const httpIdleTimeout = time.Minute

// HTTPServer returns an http.Server that serves handler, one of the
// gateway's ([Gateway.Handler] or [Gateway.AdminHandler]), with the limits
// that keep a slow client from holding a connection and its goroutine:
// a request's headers must arrive within Options.HTTPReadTimeout (this
// bounds a TLS handshake too), and then its body within
// Options.HTTPReadTimeout more; a request past either is cut off (a body
// read too late is answered 400, or the connection is closed). A keep-alive
// connection is closed after a minute without a request. WebSocket
// connections are not affected: an upgrade has no body, and the gateway
// sets its own deadlines on the connection it takes over. The server speaks
// HTTP/1.1 only, which WebSocket upgrades need, also over TLS; its errors go
// to the gateway's logger as warnings. Callers set Addr, TLSConfig and the
// like, and stop it with Shutdown and then Close, as any http.Server.
func (g *Gateway) HTTPServer(handler http.Handler) *http.Server {
	var http1 http.Protocols
	http1.SetHTTP1(true)
	srv := &http.Server{
		Handler:     handler,
		Protocols:   &http1,
		IdleTimeout: httpIdleTimeout,
		ErrorLog:    slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
	}
	if timeout := g.opts.HTTPReadTimeout; timeout > 0 {
		srv.ReadHeaderTimeout = timeout
		srv.Handler = bodyDeadline(handler, timeout)
	}
	return srv
}

// bodyDeadline bounds reading a request's body to timeout from the moment
// its headers have been read (when the handler starts). The deadline stays
// on the connection until the server reads the next request, so it bounds
// the server reading what the handler left of the body, too.
func bodyDeadline(next http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		}
		next.ServeHTTP(w, r)
	})
}
