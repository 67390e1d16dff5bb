package gateway

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// The dashboard is a page on the management listener: live message rates
// by route and errors by code, the connections (searchable, sortable, with
// their details), channels, names and nodes, and actions on them — send a
// frame, close a connection, publish to a channel — each through the
// introspection API. Its files are embedded in the binary, so it works
// offline. It renders everything the API returns as text, never as HTML:
// connection IDs, user agents, channel names and frames come from clients.

//go:embed dashboard
var dashboardFiles embed.FS

// dashboardPaths are the browser paths of the management listener: the
// page, its files, and the API the page calls.
var dashboardPaths = []string{"/", "/dashboard/*", apiPrefix + "*"}

// dashboardPolicy lets the page load only its own files and talk only to
// its own origin: no inline script, no frame around it.
const dashboardPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func (g *Gateway) dashboardRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", serveDashboardFile("index.html"))
	mux.HandleFunc("GET /dashboard/{file}", func(w http.ResponseWriter, r *http.Request) {
		serveDashboardFile(r.PathValue("file"))(w, r)
	})
}

// serveDashboardFile serves one of the dashboard's files.
func serveDashboardFile(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := fs.ReadFile(dashboardFiles, path.Join("dashboard", path.Clean("/"+name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentType(name))
		h.Set("Content-Security-Policy", dashboardPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(data)
	}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}
