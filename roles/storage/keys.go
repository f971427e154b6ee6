package storage

import (
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/store"
	"github.com/execbox/app/pkg/store/storehttp"
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
			Code: storehttp.CodeNotImplemented, Detail: "this store keeps no API keys"})
	}
	return ks, ok
}

// failKey maps the key sentinels like every other (storehttp's table).
func (a *api) failKey(w http.ResponseWriter, r *http.Request, err error) { a.fail(w, r, err) }

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
	httpx.WriteJSON(w, http.StatusOK, storehttp.KeyList{Keys: keys})
}

func (a *api) createKey(w http.ResponseWriter, r *http.Request) {
	ks, ok := a.keyStore(w, r)
	if !ok {
		return
	}
	var req storehttp.CreateKeyRequest
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
