package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// keyring holds the API keys as SHA-256 digests, so that every comparison
// is over equal lengths, with the tenant and the label of each key.
//
// A tenant is the whole digest of its key (64 hex digits): two keys are one
// tenant only if their digests are equal, which for different keys does not
// happen. Every node configured with a key derives the same tenant from it,
// which a cluster relies on. Since a digest lets anyone who sees it test
// guesses of the key, it is never logged: logs and pages name a tenant by
// its label, "key-N" for the N-th key as configured, which reveals nothing
// of the key.
type keyring struct {
	digests [][sha256.Size]byte
	tenants []string
	labels  []string
}

// singleTenantLabel names tenant "", the only one of a server with one key
// or none.
const singleTenantLabel = "default"

func newKeyring(keys []string) keyring {
	var k keyring
	seen := make(map[string]bool)
	for _, key := range keys {
		if key == "" || seen[key] {
			continue
		}
		seen[key] = true
		d := sha256.Sum256([]byte(key))
		k.digests = append(k.digests, d)
		k.tenants = append(k.tenants, hex.EncodeToString(d[:]))
		k.labels = append(k.labels, "key-"+strconv.Itoa(len(k.labels)+1))
	}
	if len(k.tenants) == 1 {
		// One key, one tenant: the same as the Lambda deployment.
		k.tenants[0], k.labels[0] = "", singleTenantLabel
	}
	return k
}

// lookup returns the tenant of key. It compares key with every configured
// key in constant time, without stopping at a match. With no keys
// configured, every key (and none) is accepted as tenant "".
func (k *keyring) lookup(key string) (tenant string, ok bool) {
	i, ok := k.index(key)
	if !ok || i < 0 {
		return "", ok
	}
	return k.tenants[i], true
}

// index returns the position of key among the configured keys, -1 (and
// ok) when no keys are configured.
func (k *keyring) index(key string) (int, bool) {
	if len(k.digests) == 0 {
		return -1, true
	}
	d := sha256.Sum256([]byte(key))
	match, index := 0, 0
	for i := range k.digests {
		eq := subtle.ConstantTimeCompare(d[:], k.digests[i][:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		match |= eq
	}
	if match == 0 || key == "" {
		return 0, false
	}
	return index, true
}

// label returns the label of tenant, for logs and pages.
func (k *keyring) label(tenant string) string {
	for i, t := range k.tenants {
		if t == tenant {
			return k.labels[i]
		}
	}
	return singleTenantLabel
}

// requestKey returns the API key of a request: header x-api-key, else the
// query parameter apiKey (for browsers, which cannot set headers).
func requestKey(r *http.Request) string {
	if key := r.Header.Get("X-Api-Key"); key != "" {
		return key
	}
	return r.URL.Query().Get("apiKey")
}

// tenantOfLabel returns the tenant a label names, for the introspection
// API's filters and its publish.
func (k *keyring) tenantOfLabel(label string) (tenant string, ok bool) {
	for i, l := range k.labels {
		if l == label {
			return k.tenants[i], true
		}
	}
	if label == singleTenantLabel && len(k.tenants) <= 1 {
		return "", true
	}
	return "", false
}

// splitKey splits a channel store's key (the relay qualifies a channel or
// name with its tenant: "TENANT:NAME", or NAME for tenant "") into the
// tenant's label and the name.
func (k *keyring) splitKey(key string) (label, name string) {
	if len(k.tenants) > 1 {
		if tenant, rest, ok := strings.Cut(key, ":"); ok {
			for i, t := range k.tenants {
				if t == tenant {
					return k.labels[i], rest
				}
			}
		}
	}
	return singleTenantLabel, key
}

// joinKey is the store's key of tenant's name, as the relay makes it.
func joinKey(tenant, name string) string {
	if tenant == "" {
		return name
	}
	return tenant + ":" + name
}
