package core

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/store"
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
	return kr.lookupHash(sha256.Sum256([]byte(secret)))
}

func (kr *keyring) lookupHash(h [sha256.Size]byte) (string, bool) {
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

// Caller is the authenticated client of a request.
type Caller struct {
	// keyID is the API key's id, "" when the gateway is open.
	keyID string
	// limitKey is what rate limits and in-flight caps count against: the
	// key id, or the client address when the gateway is open.
	limitKey string
}

type callerKey struct{}

// CallerFrom returns the caller that Authenticate put in ctx (the zero
// Caller, an open gateway's anonymous client, when none).
func CallerFrom(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
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

// Authenticate wraps an API handler: it resolves the Caller or answers 401
// (503 when the store that would tell is unreachable).
func (s *Service) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var c Caller
		open, err := s.authOpen(req.Context())
		if err != nil {
			s.authUnavailable(w, req, err)
			return
		}
		if open {
			host, _, err := net.SplitHostPort(req.RemoteAddr)
			if err != nil {
				host = req.RemoteAddr
			}
			c.limitKey = "ip:" + host
		} else {
			secret, ok := presentedKey(req)
			if !ok {
				s.metrics.rejected.WithLabelValues("unauthenticated").Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="execbox"`)
				httpx.WriteProblem(w, req, httpx.Problem{Status: http.StatusUnauthorized, Title: "unauthorized", Code: "unauthorized",
					Detail: "missing API key: send it as \"Authorization: Bearer KEY\", X-Api-Key or X-Auth-Token"})
				return
			}
			h := sha256.Sum256([]byte(secret))
			id, ok := s.keys.lookupHash(h)
			if !ok && s.storeKeys != nil {
				if id, ok, err = s.storeKeys.lookup(req.Context(), h); err != nil {
					s.authUnavailable(w, req, err)
					return
				}
			}
			if !ok {
				s.metrics.rejected.WithLabelValues("unauthenticated").Inc()
				w.Header().Set("WWW-Authenticate", `Bearer realm="execbox", error="invalid_token"`)
				httpx.WriteProblem(w, req, httpx.Problem{Status: http.StatusUnauthorized, Title: "unauthorized", Code: "unauthorized",
					Detail: "invalid API key"})
				return
			}
			c = Caller{keyID: id, limitKey: "key:" + id}
		}
		next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), callerKey{}, c)))
	})
}

// authUnavailable answers 503: the store that holds API keys did not answer,
// so the key can be neither accepted nor refused.
func (s *Service) authUnavailable(w http.ResponseWriter, req *http.Request, err error) {
	s.metrics.rejected.WithLabelValues("auth_unavailable").Inc()
	httpx.Logger(req.Context(), s.log).Warn("checking an API key failed", "err", err)
	httpx.WriteProblem(w, req, httpx.Problem{Status: http.StatusServiceUnavailable, Title: "service unavailable", Code: "unavailable",
		Detail: "cannot check API keys: storage is unavailable", RetryAfter: time.Second})
}

// authOpen reports whether the API is open (no key needed). The rule: a key
// is required as soon as any key exists, in --api-keys or in the store (made
// with "app storage keys create", even if revoked since). So the gateway is
// open only when neither ever had one.
func (s *Service) authOpen(ctx context.Context) (bool, error) {
	if !s.keys.empty() {
		return false, nil
	}
	if s.storeKeys == nil {
		return true, nil
	}
	return s.storeKeys.open(ctx)
}

// logAuthRule says at start which rule is in force.
func (s *Service) logAuthRule(ctx context.Context) {
	n := len(s.keys.keys)
	switch {
	case s.storeKeys == nil && n == 0:
		s.log.Warn("no API key configured: the gateway is open to anyone who can reach it (set EXECBOX_API_KEYS)")
	case s.storeKeys == nil:
		s.log.Info("API keys required", "config_keys", n)
	case n > 0:
		s.log.Info("API keys required: from --api-keys, then looked up in the store", "config_keys", n,
			"cache_ttl", s.storeKeys.ttl)
	default:
		open, err := s.storeKeys.open(ctx)
		switch {
		case err != nil:
			s.log.Warn("cannot tell yet whether API keys are required: the store does not answer; "+
				"requests get 503 until it does", "err", err)
		case open:
			s.log.Warn("no API key in --api-keys or the store: the gateway is open to anyone who can reach it "+
				"until a key is made (app storage keys create)", "recheck_every", s.storeKeys.ttl)
		default:
			s.log.Info("API keys required: looked up in the store", "cache_ttl", s.storeKeys.ttl)
		}
	}
}

// storeKeys looks presented keys up in the store, by hash, through a small
// cache: answers (found and not found) are kept for ttl, so a key revoked in
// the store stops working within ttl, a new one works within ttl of its
// first refused use, and repeated bad keys cost one store lookup per ttl.
// At most maxLookups lookups run at once, so a flood of distinct bad keys
// queues here instead of piling onto storage.
type storeKeys struct {
	ks  store.KeyStore
	ttl time.Duration
	max int
	now func() time.Time
	log *slog.Logger
	sem chan struct{}

	mu    sync.Mutex
	cache map[[sha256.Size]byte]keyEntry

	// stateMu serialises the checks of whether the store has keys (one at a
	// time; the others wait for its answer).
	stateMu   sync.Mutex
	state     authState
	nextCheck time.Time
	lastErr   error
}

type keyEntry struct {
	id      string
	found   bool
	expires time.Time
}

type authState int

const (
	stateUnknown authState = iota
	stateOpen
	stateClosed // final: keys are never deleted, only revoked
)

const (
	keyCacheSize = 10_000
	maxLookups   = 16
	// keyCheckTimeout bounds one store call of the auth path.
	keyCheckTimeout = 5 * time.Second
)

func newStoreKeys(ks store.KeyStore, ttl time.Duration, now func() time.Time, log *slog.Logger) *storeKeys {
	return &storeKeys{ks: ks, ttl: ttl, max: keyCacheSize, now: now, log: log,
		sem: make(chan struct{}, maxLookups), cache: map[[sha256.Size]byte]keyEntry{}}
}

// lookup returns the id of the active stored key with hash h.
func (s *storeKeys) lookup(ctx context.Context, h [sha256.Size]byte) (string, bool, error) {
	s.mu.Lock()
	e, hit := s.cache[h]
	s.mu.Unlock()
	if hit && s.now().Before(e.expires) {
		return e.id, e.found, nil
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return "", false, ctx.Err()
	}
	defer func() { <-s.sem }()
	ctx, cancel := context.WithTimeout(ctx, keyCheckTimeout)
	defer cancel()
	k, err := s.ks.LookupKey(ctx, h)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrKeyNotFound) {
		return "", false, err
	}
	s.put(h, keyEntry{id: k.ID, found: found, expires: s.now().Add(s.ttl)})
	return k.ID, found, nil
}

func (s *storeKeys) put(h [sha256.Size]byte, e keyEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.cache[h]; !ok && len(s.cache) >= s.max {
		now := s.now()
		for k, v := range s.cache {
			if !now.Before(v.expires) {
				delete(s.cache, k)
			}
		}
		// Still full of live entries: drop arbitrary ones (map order).
		for k := range s.cache {
			if len(s.cache) < s.max {
				break
			}
			delete(s.cache, k)
		}
	}
	s.cache[h] = e
}

// open reports whether the store has no key at all. While it has none the
// answer is re-checked every ttl; once it has one the answer is final. When
// the store does not answer, the last answer stands; with none yet, the
// error is returned (and the store asked again after a second at most).
func (s *storeKeys) open(ctx context.Context) (bool, error) {
	s.stateMu.Lock()
	defer s.stateMu.Unlock()
	now := s.now()
	switch {
	case s.state == stateClosed:
		return false, nil
	case now.Before(s.nextCheck) && s.state == stateOpen:
		return true, nil
	case now.Before(s.nextCheck):
		return false, s.lastErr
	}
	// One request's cancellation must not fail the check for the others.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), keyCheckTimeout)
	defer cancel()
	keys, err := s.ks.ListKeys(ctx)
	if err != nil {
		s.nextCheck = now.Add(min(s.ttl, time.Second))
		if s.state == stateOpen {
			s.log.Warn("checking the store for API keys failed; the gateway stays open", "err", err)
			return true, nil
		}
		s.lastErr = fmt.Errorf("check the store for API keys: %w", err)
		return false, s.lastErr
	}
	if len(keys) > 0 {
		if s.state == stateOpen {
			s.log.Info("API keys found in the store: the gateway now requires a key", "keys", len(keys))
		}
		s.state = stateClosed
		return false, nil
	}
	s.state, s.nextCheck, s.lastErr = stateOpen, now.Add(s.ttl), nil
	return true, nil
}

// ValidateAPIKeys checks an --api-keys list ("id:sha256hex" pairs and raw
// keys, comma-separated).
func ValidateAPIKeys(list string) error {
	_, err := parseAPIKeys(list)
	return err
}
