package gateway

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// awsTimeFormat is ISO 8601 as API Gateway writes connectedAt and lastActiveAt.
const awsTimeFormat = "2006-01-02T15:04:05.000Z"

// adminMux serves API Gateway's @connections management API, the
// introspection API and the dashboard, behind the
// guard that checks Host, Origin and, with credentials configured, the
// signature (see adminGuard). The AWS SDK sends connection IDs path-escaped
// ("=" as %3D, "/" as %2F): the patterns match escaped segments and
// PathValue unescapes them, so an ID is never split on a "/" of its own.
func (g *Gateway) adminMux() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"", "/{stage}"} {
		mux.HandleFunc("POST "+prefix+"/@connections/{id}", g.throttled(g.servePost))
		mux.HandleFunc("GET "+prefix+"/@connections/{id}", g.throttled(g.serveGet))
		mux.HandleFunc("DELETE "+prefix+"/@connections/{id}", g.throttled(g.serveDelete))
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", g.serveHealth)
	g.introspectionRoutes(mux)
	g.dashboardRoutes(mux)
	return g.newAdminGuard(mux, dashboardPaths...)
}

// servePost is PostToConnection: the body goes to the connection as one
// text frame. 200, or 410 Gone, 413 PayloadTooLarge, 429 LimitExceeded.
func (g *Gateway) servePost(w http.ResponseWriter, r *http.Request) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	if err := g.postAnywhere(r.Context(), r.PathValue("id"), body); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveGet is GetConnection.
func (g *Gateway) serveGet(w http.ResponseWriter, r *http.Request) {
	info, err := g.connectionAnywhere(r.Context(), r.PathValue("id"))
	if err != nil {
		g.writeWireError(w, r, err)
		return
	}
	type identity struct {
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	}
	body := struct {
		ConnectedAt  string   `json:"connectedAt"`
		Identity     identity `json:"identity"`
		LastActiveAt string   `json:"lastActiveAt"`
	}{
		ConnectedAt:  info.ConnectedAt.UTC().Format(awsTimeFormat),
		Identity:     identity{SourceIP: info.SourceIP, UserAgent: info.UserAgent},
		LastActiveAt: info.LastActiveAt.UTC().Format(awsTimeFormat),
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(body)
}

// serveDelete is DeleteConnection: the connection is closed with status
// 1000 after what is already queued for it. 204, or 410.
func (g *Gateway) serveDelete(w http.ResponseWriter, r *http.Request) {
	if err := g.deleteAnywhere(r.Context(), r.PathValue("id")); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Remote reaches the connections that other nodes of a cluster hold, so
// that the management API of any node acts on a connection wherever it is.
// Each method returns an error matching wire.ErrGone when no live node
// holds the connection, and wire.ErrInternal when the others cannot be
// reached.
type Remote interface {
	PostToConnection(ctx context.Context, connectionID string, data []byte) error
	Connection(ctx context.Context, connectionID string) (ConnectionInfo, error)
	DeleteConnection(ctx context.Context, connectionID string) error
}

// postAnywhere is PostToConnection on this node, else through Remote.
func (g *Gateway) postAnywhere(ctx context.Context, connectionID string, data []byte) error {
	if g.conns.get(connectionID) != nil || g.opts.Remote == nil {
		return g.PostToConnection(ctx, connectionID, data)
	}
	return g.opts.Remote.PostToConnection(ctx, connectionID, data)
}

// connectionAnywhere is Connection on this node, else through Remote.
func (g *Gateway) connectionAnywhere(ctx context.Context, connectionID string) (ConnectionInfo, error) {
	if info, ok := g.Connection(connectionID); ok {
		return info, nil
	}
	if g.opts.Remote == nil {
		return ConnectionInfo{}, goneError(connectionID)
	}
	return g.opts.Remote.Connection(ctx, connectionID)
}

// deleteAnywhere is DeleteConnection on this node, else through Remote.
func (g *Gateway) deleteAnywhere(ctx context.Context, connectionID string) error {
	if g.conns.get(connectionID) != nil || g.opts.Remote == nil {
		return g.DeleteConnection(connectionID)
	}
	return g.opts.Remote.DeleteConnection(ctx, connectionID)
}
