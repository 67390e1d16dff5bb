package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
)

// keyring holds the API keys as SHA-256 digests, so that every comparison
// is over equal lengths, and the tenant of each key.
type keyring struct {
	digests [][sha256.Size]byte
	tenants []string
}

func newKeyring(keys []string) keyring {
	var k keyring
	keys = slices.Compact(slices.Sorted(slices.Values(keys)))
	for _, key := range keys {
		if key == "" {
			continue
		}
		d := sha256.Sum256([]byte(key))
		k.digests = append(k.digests, d)
		k.tenants = append(k.tenants, "k"+hex.EncodeToString(d[:4]))
	}
	if len(k.tenants) == 1 {
		k.tenants[0] = "" // one key, one tenant: the same as the Lambda deployment
	}
	return k
}

// lookup returns the tenant of key. It compares key with every configured
// key in constant time, without stopping at a match. With no keys
// configured, every key (and none) is accepted as tenant "".
func (k *keyring) lookup(key string) (tenant string, ok bool) {
	if len(k.digests) == 0 {
		return "", true
	}
	d := sha256.Sum256([]byte(key))
	match, index := 0, 0
	for i := range k.digests {
		eq := subtle.ConstantTimeCompare(d[:], k.digests[i][:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		match |= eq
	}
	if match == 0 || key == "" {
		return "", false
	}
	return k.tenants[index], true
}

// requestKey returns the API key of a request: header x-api-key, else the
// query parameter apiKey (for browsers, which cannot set headers).
func requestKey(r *http.Request) string {
	if key := r.Header.Get("X-Api-Key"); key != "" {
		return key
	}
	return r.URL.Query().Get("apiKey")
}
