package gateway

import (
	"net/http"
	"sync"
)

// admission counts open connections, in all, per source IP and per API key
// (tenant), against the caps of Options; a handshake over a cap is refused
// before $connect, so a flood never reaches the integration nor runs the
// process out of file descriptors.
type admission struct {
	max, perIP, perKey int // 0: no cap

	mu    sync.Mutex
	total int
	byIP  map[string]int
	byKey map[string]int
}

func newAdmission(opts *Options) *admission {
	return &admission{
		max:    max(0, opts.MaxConnections),
		perIP:  opts.MaxConnectionsPerIP,
		perKey: opts.MaxConnectionsPerKey,
		byIP:   make(map[string]int),
		byKey:  make(map[string]int),
	}
}

// refusal says why a handshake was refused: the HTTP status, the AWS error
// type, the message and the metric's reason.
type refusal struct {
	status          int
	awsType, reason string
	message         string
}

// admit counts a connection from ip with tenant's key, or says why not.
func (a *admission) admit(ip, tenant string) *refusal {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.max > 0 && a.total >= a.max:
		return &refusal{http.StatusServiceUnavailable, "ServiceUnavailableException", "capacity", "the server is at its connection limit"}
	case a.perIP > 0 && a.byIP[ip] >= a.perIP:
		return &refusal{http.StatusTooManyRequests, "LimitExceededException", "per_ip_limit", "too many connections from this address"}
	case a.perKey > 0 && a.byKey[tenant] >= a.perKey:
		return &refusal{http.StatusTooManyRequests, "LimitExceededException", "per_key_limit", "too many connections with this API key"}
	}
	a.total++
	if a.perIP > 0 {
		a.byIP[ip]++
	}
	if a.perKey > 0 {
		a.byKey[tenant]++
	}
	return nil
}

// release uncounts a connection that admit counted.
func (a *admission) release(ip, tenant string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total--
	if a.perIP > 0 {
		if a.byIP[ip]--; a.byIP[ip] <= 0 {
			delete(a.byIP, ip) // the maps hold only addresses with connections
		}
	}
	if a.perKey > 0 {
		if a.byKey[tenant]--; a.byKey[tenant] <= 0 {
			delete(a.byKey, tenant)
		}
	}
}
