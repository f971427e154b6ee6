package storehttp

import (
	"context"
	"encoding/hex"
	"net/http"
	"net/url"

	"github.com/execbox/app/pkg/store"
)

var _ store.KeyStore = (*Client)(nil)

// CreateKey implements store.KeyStore.
func (c *Client) CreateKey(ctx context.Context, nk store.NewKey) (store.Key, error) {
	if err := nk.Validate(); err != nil {
		return store.Key{}, err
	}
	var k store.Key
	err := c.c.Do(ctx, http.MethodPost, "/storage/v1/keys",
		CreateKeyRequest{ID: nk.ID, Name: nk.Name, SHA256: hex.EncodeToString(nk.Hash[:])}, &k)
	return k, Sentinel(err)
}

// RevokeKey implements store.KeyStore.
func (c *Client) RevokeKey(ctx context.Context, id string) (store.Key, error) {
	var k store.Key
	err := c.c.Do(ctx, http.MethodPost, "/storage/v1/keys/"+url.PathEscape(id)+"/revoke", nil, &k)
	return k, Sentinel(err)
}

// ListKeys implements store.KeyStore.
func (c *Client) ListKeys(ctx context.Context) ([]store.Key, error) {
	var l KeyList
	err := c.c.Do(ctx, http.MethodGet, "/storage/v1/keys", nil, &l)
	return l.Keys, Sentinel(err)
}

// LookupKey implements store.KeyStore.
func (c *Client) LookupKey(ctx context.Context, hash [32]byte) (store.Key, error) {
	var k store.Key
	err := c.c.Do(ctx, http.MethodGet, "/storage/v1/keys/"+hex.EncodeToString(hash[:]), nil, &k)
	return k, Sentinel(err)
}
