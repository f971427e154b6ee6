package storage

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/store"
)

// API key routes of the internal API (behind the internal token):
//
//	GET  /storage/v1/keys                  {"keys": [store.Key...]}, revoked ones too
//	POST /storage/v1/keys                  {"id", "name", "sha256": hex}: 201 store.Key
//	                                       (409 key_exists)
//	GET  /storage/v1/keys/{sha256hex}      the active key with that hash (404 key_not_found)
//	POST /storage/v1/keys/{id}/revoke      store.Key (404 key_not_found)
//
// A store without keys answers 501. Secrets never cross this API: the
// caller hashes them.

type createKeyRequest struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

type keyList struct {
	Keys []store.Key `json:"keys"`
}

func (a *api) mountKeys(mux *http.ServeMux) {
	mux.HandleFunc("GET /storage/v1/keys", a.listKeys)
	mux.HandleFunc("POST /storage/v1/keys", a.createKey)
	mux.HandleFunc("GET /storage/v1/keys/{sha256}", a.lookupKey)
	mux.HandleFunc("POST /storage/v1/keys/{id}/revoke", a.revokeKey)
}

// keyStore returns the store's keys or answers 501.
func (a *api) keyStore(w http.ResponseWriter, r *http.Request) (store.KeyStore, bool) {
	ks, ok := a.store.(store.KeyStore)
	if !ok {
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusNotImplemented, Title: "not implemented",
			Code: "not_implemented", Detail: "this store keeps no API keys"})
	}
	return ks, ok
}

// failKey maps the key sentinels, then the common ones.
func (a *api) failKey(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, store.ErrKeyNotFound):
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusNotFound, Title: "not found", Code: "key_not_found", Detail: err.Error()})
	case errors.Is(err, store.ErrKeyExists):
		httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusConflict, Title: "conflict", Code: "key_exists", Detail: err.Error()})
	default:
		a.fail(w, r, err)
	}
}

// parseHash reads a SHA-256 in lowercase or uppercase hex.
func parseHash(s string) ([32]byte, bool) {
	var h [32]byte
	if len(s) != 2*len(h) {
		return h, false
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, false
	}
	return h, true
}

func (a *api) listKeys(w http.ResponseWriter, r *http.Request) {
	ks, ok := a.keyStore(w, r)
	if !ok {
		return
	}
	keys, err := ks.ListKeys(r.Context())
	if err != nil {
		a.failKey(w, r, err)
		return
	}
	if keys == nil {
		keys = []store.Key{}
	}
	httpx.WriteJSON(w, http.StatusOK, keyList{Keys: keys})
}

func (a *api) createKey(w http.ResponseWriter, r *http.Request) {
	ks, ok := a.keyStore(w, r)
	if !ok {
		return
	}
	var req createKeyRequest
	if !a.decode(w, r, &req, 4096) {
		return
	}
	h, ok := parseHash(req.SHA256)
	if !ok {
		badQuery(w, r, "sha256", "must be the 64 hex digits of the key's SHA-256")
		return
	}
	nk := store.NewKey{ID: req.ID, Name: req.Name, Hash: h}
	if err := nk.Validate(); err != nil {
		field := "id"
		if strings.Contains(err.Error(), "key name") {
			field = "name"
		}
		badQuery(w, r, field, strings.TrimPrefix(err.Error(), store.ErrInvalid.Error()+": "))
		return
	}
	k, err := ks.CreateKey(r.Context(), nk)
	if err != nil {
		a.failKey(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, k)
}

func (a *api) lookupKey(w http.ResponseWriter, r *http.Request) {
	ks, ok := a.keyStore(w, r)
	if !ok {
		return
	}
	h, ok := parseHash(r.PathValue("sha256"))
	if !ok {
		badQuery(w, r, "sha256", "must be the 64 hex digits of the key's SHA-256")
		return
	}
	k, err := ks.LookupKey(r.Context(), h)
	if err != nil {
		a.failKey(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, k)
}

func (a *api) revokeKey(w http.ResponseWriter, r *http.Request) {
	ks, ok := a.keyStore(w, r)
	if !ok {
		return
	}
	k, err := ks.RevokeKey(r.Context(), r.PathValue("id"))
	if err != nil {
		a.failKey(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, k)
}

var _ store.KeyStore = (*Client)(nil)

// mapKeyErr turns the key problems back into the store sentinels.
func mapKeyErr(err error) error {
	var p *httpx.Problem
	if errors.As(err, &p) {
		switch p.Code {
		case "key_not_found":
			return fmt.Errorf("%w: %s", store.ErrKeyNotFound, p.Detail)
		case "key_exists":
			return fmt.Errorf("%w: %s", store.ErrKeyExists, p.Detail)
		}
	}
	return mapErr(err)
}

// CreateKey implements store.KeyStore.
func (c *Client) CreateKey(ctx context.Context, nk store.NewKey) (store.Key, error) {
	if err := nk.Validate(); err != nil {
		return store.Key{}, err
	}
	var k store.Key
	err := c.c.Do(ctx, http.MethodPost, "/storage/v1/keys",
		createKeyRequest{ID: nk.ID, Name: nk.Name, SHA256: hex.EncodeToString(nk.Hash[:])}, &k)
	return k, mapKeyErr(err)
}

// RevokeKey implements store.KeyStore.
func (c *Client) RevokeKey(ctx context.Context, id string) (store.Key, error) {
	var k store.Key
	err := c.c.Do(ctx, http.MethodPost, "/storage/v1/keys/"+url.PathEscape(id)+"/revoke", nil, &k)
	return k, mapKeyErr(err)
}

// ListKeys implements store.KeyStore.
func (c *Client) ListKeys(ctx context.Context) ([]store.Key, error) {
	var l keyList
	err := c.c.Do(ctx, http.MethodGet, "/storage/v1/keys", nil, &l)
	return l.Keys, mapKeyErr(err)
}

// LookupKey implements store.KeyStore.
func (c *Client) LookupKey(ctx context.Context, hash [32]byte) (store.Key, error) {
	var k store.Key
	err := c.c.Do(ctx, http.MethodGet, "/storage/v1/keys/"+hex.EncodeToString(hash[:]), nil, &k)
	return k, mapKeyErr(err)
}
