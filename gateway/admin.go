package gateway

import (
	"encoding/json"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// awsTimeFormat is ISO 8601 as API Gateway writes connectedAt and lastActiveAt.
const awsTimeFormat = "2006-01-02T15:04:05.000Z"

// adminMux serves API Gateway's @connections management API, behind the
// guard that checks Host, Origin and, with credentials configured, the
// signature (see adminGuard). The AWS SDK sends connection IDs path-escaped
// ("=" as %3D, "/" as %2F): the patterns match escaped segments and
// PathValue unescapes them, so an ID is never split on a "/" of its own.
func (g *Gateway) adminMux() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"", "/{stage}"} {
		mux.HandleFunc("POST "+prefix+"/@connections/{id}", g.servePost)
		mux.HandleFunc("GET "+prefix+"/@connections/{id}", g.serveGet)
		mux.HandleFunc("DELETE "+prefix+"/@connections/{id}", g.serveDelete)
	}
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", g.serveHealth)
	return g.newAdminGuard(mux)
}

// servePost is PostToConnection: the body goes to the connection as one
// text frame. 200, or 410 Gone, 413 PayloadTooLarge, 429 LimitExceeded.
func (g *Gateway) servePost(w http.ResponseWriter, r *http.Request) {
	body, ok := g.readBody(w, r)
	if !ok {
		return
	}
	if err := g.PostToConnection(r.Context(), r.PathValue("id"), body); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// serveGet is GetConnection.
func (g *Gateway) serveGet(w http.ResponseWriter, r *http.Request) {
	info, ok := g.Connection(r.PathValue("id"))
	if !ok {
		g.writeWireError(w, r, goneError(r.PathValue("id")))
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
	if err := g.DeleteConnection(r.PathValue("id")); err != nil {
		g.writeWireError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
