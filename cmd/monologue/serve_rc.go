package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/monologue-go/monologue"
)

// rcPlan is what serve, started without --api-key, does about the client
// configuration in the working directory: the key it uses, whether it
// writes the file, and what it tells the person who started it.
//
// A .monologuerc that points at this server (same scheme and port, the
// same host or both loopback) gives its key, so that clients configured by
// an earlier run keep working across restarts; one that points elsewhere
// (what make configure writes for AWS, another server) is never
// overwritten: serve then generates a key and says how to reach it.
type rcPlan struct {
	key     string
	write   bool
	message string
}

// planAPIKey decides the key of a server at endpoint from the file at path.
func planAPIKey(endpoint, path string) rcPlan {
	existing, err := monologue.ReadConfigFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return rcPlan{key: newAPIKey(), write: true, message: "generated the key and wrote " + path}
	case err != nil:
		key := newAPIKey()
		return rcPlan{key: key, message: fmt.Sprintf("generated a key; left %s alone (%v); clients need --endpoint %s --api-key %s", path, err, endpoint, key)}
	case !sameServer(existing.Endpoint, endpoint):
		key := newAPIKey()
		return rcPlan{key: key, message: fmt.Sprintf("generated a key; left %s alone: it points at %s, not at this server; clients need --endpoint %s --api-key %s (or %s and %s)",
			path, existing.Endpoint, endpoint, key, monologue.EnvEndpoint, monologue.EnvAPIKey)}
	case existing.APIKey == "":
		return rcPlan{key: newAPIKey(), write: true, message: "generated the key and wrote it to " + path + ", which had none"}
	}
	return rcPlan{key: existing.APIKey, message: "reused the API key of " + path + ", which points at this server"}
}

// apply writes the file when the plan says so; a file that cannot be
// written (a read-only directory) is reported, not fatal.
func (p *rcPlan) apply(endpoint, path string) {
	if !p.write {
		return
	}
	rc := fmt.Sprintf("[opts]\nendpoint=%s\napiKey=%s\n", endpoint, p.key)
	if err := os.WriteFile(path, []byte(rc), 0o600); err != nil {
		p.message = fmt.Sprintf("generated a key but could not write %s (%v); clients need --endpoint %s --api-key %s", path, err, endpoint, p.key)
	}
}

// sameServer reports whether two WebSocket URLs reach the same listener:
// the same scheme (http taken as ws) and port, and the same host or both
// on loopback. Paths (an API Gateway stage) do not matter.
func sameServer(a, b string) bool {
	ua, errA := url.Parse(normalizeScheme(a))
	ub, errB := url.Parse(normalizeScheme(b))
	if errA != nil || errB != nil || ua.Scheme != ub.Scheme || ua.Port() != ub.Port() || ua.Host == "" {
		return false
	}
	ha, hb := strings.ToLower(ua.Hostname()), strings.ToLower(ub.Hostname())
	return ha == hb || isLoopback(ha) && isLoopback(hb)
}

func normalizeScheme(u string) string {
	switch {
	case strings.HasPrefix(u, "http://"):
		return "ws://" + strings.TrimPrefix(u, "http://")
	case strings.HasPrefix(u, "https://"):
		return "wss://" + strings.TrimPrefix(u, "https://")
	}
	return u
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
