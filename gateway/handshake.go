package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/monologue-go/monologue/relay"
	"github.com/monologue-go/monologue/wire"
)

// maxUserAgent bounds the User-Agent kept for each connection.
const maxUserAgent = 512

func (g *Gateway) publicMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", g.serveWebSocket)
	mux.HandleFunc("GET /{stage}", g.serveWebSocket)
	mux.HandleFunc("GET /{stage}/{$}", g.serveWebSocket)
	mux.HandleFunc("POST /channels/{channel}", g.serveBroadcast)
	mux.HandleFunc("GET /healthz", g.serveHealth)
	return mux
}

type connectRequestKey struct{}

// ConnectRequest returns the handshake request when ctx is the context of a
// $connect event, for integrations that forward its headers and query (as
// API Gateway's $connect event does). It must not be kept after Handle
// returns.
func ConnectRequest(ctx context.Context) (*http.Request, bool) {
	r, ok := ctx.Value(connectRequestKey{}).(*http.Request)
	return r, ok
}

// serveWebSocket is the handshake net/http serves.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	g.handshake(w, r, r.PathValue("stage"), nil)
}

// handshake is the handshake: API key, $connect, upgrade, then the
// connection's reader. up is nil for a request net/http serves, which is
// upgraded by hijacking w, or the socket of a request an event loop read
// itself (see Gateway.Listener), whose loop completes the upgrade.
func (g *Gateway) handshake(w http.ResponseWriter, r *http.Request, stage string, up *upgrade) {
	tenant, ok := g.keys.lookup(requestKey(r))
	if !ok {
		g.metrics.rejected("forbidden")
		writeError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
		return
	}
	if msg := checkUpgrade(r); msg != "" {
		g.metrics.rejected("bad_request")
		w.Header().Set("Sec-WebSocket-Version", "13")
		writeError(w, http.StatusUpgradeRequired, "BadRequestException", msg)
		return
	}
	if g.shuttingDown() {
		g.metrics.rejected("shutting_down")
		writeError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "server shutting down")
		return
	}
	ip := sourceIP(r.RemoteAddr)
	if no := g.admission.admit(ip, tenant); no != nil {
		g.metrics.rejected(no.reason)
		writeError(w, no.status, no.awsType, no.message)
		return
	}
	started := false // once the connection runs, its end releases its place
	defer func() {
		if !started {
			g.admission.release(ip, tenant)
		}
	}()
	id := g.opts.NewConnectionID()
	identity := relay.Identity{
		SourceIP:  ip,
		UserAgent: strings.Clone(r.UserAgent()[:min(len(r.UserAgent()), maxUserAgent)]),
		Tenant:    tenant,
	}
	ctx := context.WithValue(r.Context(), connectRequestKey{}, r)
	if err := g.integration.Handle(ctx, relay.Event{ConnectionID: id, Route: wire.RouteConnect, Identity: identity}); err != nil {
		g.metrics.rejected("connect_error")
		if werr, ok := errors.AsType[*wire.Error](err); ok && werr.Code != wire.CodeInternal {
			g.log.InfoContext(ctx, "$connect refused", "connection", id, "source_ip", identity.SourceIP, "err", err)
			g.writeWireError(w, r, werr)
			return
		}
		g.log.ErrorContext(ctx, "$connect failed", "connection", id, "source_ip", identity.SourceIP, "err", err)
		writeError(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		return
	}
	var c *conn
	looped := true
	if up != nil {
		var err error
		if c, err = up.complete(g, r, id, identity, strings.Clone(stage)); err != nil {
			g.metrics.rejected("upgrade_failed")
			g.log.DebugContext(ctx, "upgrade failed", "connection", id, "source_ip", identity.SourceIP, "err", err)
			g.disconnected(id, identity)
			return
		}
	} else {
		upgrader := ws.HTTPUpgrader{Timeout: g.opts.WriteTimeout}
		netConn, rw, _, err := upgrader.Upgrade(r, w)
		if err != nil {
			g.metrics.rejected("upgrade_failed")
			g.log.DebugContext(ctx, "upgrade failed", "connection", id, "source_ip", identity.SourceIP, "err", err)
			if netConn != nil {
				_ = netConn.Close()
			}
			g.disconnected(id, identity)
			return
		}
		c = newConn(g, netConn, id, identity, strings.Clone(stage))
		if n := rw.Reader.Buffered(); n > 0 {
			early, _ := rw.Reader.Peek(n)
			c.early = bytes.Clone(early)
		}
		// A loop's connection has its socket before other goroutines can
		// find it in the table.
		looped = g.prepareLoop(c)
	}
	if !g.register(c) {
		c.refuse()
		return
	}
	g.log.Info("connection opened", "connection", id, "source_ip", identity.SourceIP, "tenant", g.keys.label(tenant))
	started = true
	c.start(looped)
}

// disconnected sends the $disconnect event of a connection.
func (g *Gateway) disconnected(id string, identity relay.Identity) {
	err := g.integration.Handle(g.ctx, relay.Event{ConnectionID: id, Route: wire.RouteDisconnect, Identity: identity})
	if err != nil {
		g.log.Error("$disconnect failed", "connection", id, "err", err)
	}
}

// checkUpgrade returns why r is not a WebSocket handshake, or "". It runs
// before $connect, so that a plain GET does not reach the integration.
func checkUpgrade(r *http.Request) string {
	switch {
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return "expected a WebSocket upgrade"
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return "expected Connection: Upgrade"
	case r.Header.Get("Sec-WebSocket-Key") == "":
		return "missing Sec-WebSocket-Key"
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return "unsupported Sec-WebSocket-Version (want 13)"
	}
	return ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, value := range h.Values(name) {
		for part := range strings.SplitSeq(value, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func sourceIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// serveBroadcast is POST /channels/{channel}: the body, as JSON when it is
// JSON and else as a JSON string, goes to every subscriber of the channel.
func (g *Gateway) serveBroadcast(w http.ResponseWriter, r *http.Request) {
	tenant, ok := g.keys.lookup(requestKey(r))
	if !ok {
		writeError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
		return
	}
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	err := g.integration.Broadcast(r.Context(), tenant, r.PathValue("channel"), wire.BodyPayload(body))
	if err != nil {
		g.writeWireError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, "{}\n")
}

// readBody reads a request body of at most MaxMessageSize bytes that is
// valid UTF-8, answering 413 PayloadTooLargeException or 400 itself when it
// cannot.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(g.opts.MaxMessageSize)))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", "payload exceeds the message size limit")
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "BadRequestException", "cannot read the request body")
		return nil, false
	}
	if !utf8.Valid(body) {
		// It would reach clients as a text frame, and a strict client
		// (every browser) fails the connection on invalid UTF-8.
		writeError(w, http.StatusBadRequest, "BadRequestException", "body is not valid UTF-8")
		return nil, false
	}
	return body, true
}

// writeWireError answers with the status and AWS error type of err's code.
func (g *Gateway) writeWireError(w http.ResponseWriter, r *http.Request, err error) {
	werr, ok := errors.AsType[*wire.Error](err)
	if !ok {
		g.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		werr = wire.NewError(wire.CodeInternal, "Internal server error")
	}
	info := werr.Code.Info()
	message := werr.Message
	if message == "" {
		message = string(werr.Code)
	}
	writeError(w, info.HTTPStatus, info.AWSType, message)
}

// writeError writes an error the way API Gateway does: the error type in
// x-amzn-ErrorType and {"message":…} as the body.
func writeError(w http.ResponseWriter, status int, awsType, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", awsType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Message string `json:"message"`
	}{message})
}

func (g *Gateway) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if g.shuttingDown() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"shutting down"}`+"\n")
		return
	}
	_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
}

// handshakeTimeout bounds writing the close frame to a connection refused
// after its upgrade.
const handshakeTimeout = time.Second
