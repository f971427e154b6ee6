package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/execbox/app/pkg/httpx"
)

// apiKey is one configured key: an id (logged, stored with submissions)
// and the SHA-256 of the secret. The secret itself is never kept.
type apiKey struct {
	id   string
	hash [sha256.Size]byte
}

// keyring holds the configured API keys.
type keyring struct {
	keys []apiKey
}

// parseAPIKeys reads "id:sha256hex" pairs and raw keys. A raw key's id is
// "key-" and the first 8 hex digits of its hash.
func parseAPIKeys(list string) (*keyring, error) {
	entries := strings.Split(list, ",")
	kr := &keyring{}
	ids := map[string]bool{}
	for i, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var k apiKey
		if id, hexHash, ok := strings.Cut(e, ":"); ok && len(hexHash) == 2*sha256.Size && isHex(hexHash) {
			if id == "" {
				return nil, fmt.Errorf("--api-keys entry %d: empty key id", i)
			}
			b, _ := hex.DecodeString(strings.ToLower(hexHash))
			copy(k.hash[:], b)
			k.id = id
		} else {
			k.hash = sha256.Sum256([]byte(e))
			k.id = "key-" + hex.EncodeToString(k.hash[:4])
		}
		if ids[k.id] {
			return nil, fmt.Errorf("--api-keys entry %d: key id %q used twice", i, k.id)
		}
		ids[k.id] = true
		kr.keys = append(kr.keys, k)
	}
	return kr, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func (kr *keyring) empty() bool { return len(kr.keys) == 0 }

// lookup returns the id of the key whose hash matches secret. Every stored
// hash is compared in constant time, so timing reveals nothing about which
// key (or how much of one) matched.
func (kr *keyring) lookup(secret string) (string, bool) {
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range kr.keys {
		if subtle.ConstantTimeCompare(h[:], kr.keys[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return kr.keys[found].id, true
}

// caller is the authenticated client of a request.
type caller struct {
	// keyID is the API key's id, "" when the gateway is open.
	keyID string
	// limitKey is what rate limits and in-flight caps count against: the
	// key id, or the client address when the gateway is open.
	limitKey string
}

type callerKey struct{}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// presentedKey returns the API key a request carries, from
// "Authorization: Bearer", X-Api-Key or Judge0's X-Auth-Token.
func presentedKey(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), true
		}
	}
	for _, name := range []string{"X-Api-Key", "X-Auth-Token"} {
		if v := r.Header.Get(name); v != "" {
			return v, true
		}
	}
	return "", false
}

// authenticate wraps an API handler: it resolves the caller or answers 401.
func (r *Role) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var c caller
		if r.keys.empty() {
			host, _, err := net.SplitHostPort(req.RemoteAddr)
			if err != nil {
				host = req.RemoteAddr
			}
			c.limitKey = "ip:" + host
		} else {
			secret, ok := presentedKey(req)
			if !ok {
				r.metrics.rejected.WithLabelValues("unauthenticated").Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="execbox"`)
				httpx.WriteProblem(w, req, httpx.Problem{Status: http.StatusUnauthorized, Title: "unauthorized", Code: "unauthorized",
					Detail: "missing API key: send it as \"Authorization: Bearer KEY\", X-Api-Key or X-Auth-Token"})
				return
			}
			id, ok := r.keys.lookup(secret)
			if !ok {
				r.metrics.rejected.WithLabelValues("unauthenticated").Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="execbox", error="invalid_token"`)
				httpx.WriteProblem(w, req, httpx.Problem{Status: http.StatusUnauthorized, Title: "unauthorized", Code: "unauthorized",
					Detail: "invalid API key"})
				return
			}
			c = caller{keyID: id, limitKey: "key:" + id}
		}
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), callerKey{}, c)))
	})
}
