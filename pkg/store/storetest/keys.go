package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/execbox/app/pkg/store"
)

// KeyFactory returns a new, empty key store for one test. It registers its
// own cleanup with t.
type KeyFactory func(t *testing.T) store.KeyStore

// RunKeys runs the API key part of the contract.
func RunKeys(t *testing.T, newStore KeyFactory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.KeyStore)
	}{
		{"CreateLookup", testKeyCreateLookup},
		{"Duplicate", testKeyDuplicate},
		{"DuplicateConcurrent", testKeyDuplicateConcurrent},
		{"Revoke", testKeyRevoke},
		{"List", testKeyList},
		{"Invalid", testKeyInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore(t))
		})
	}
}

// KeyHash is the hash of a test secret.
func KeyHash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

func keyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t *testing.T, s store.KeyStore, id, name, secret string) store.Key {
	t.Helper()
	k, err := s.CreateKey(keyCtx(t), store.NewKey{ID: id, Name: name, Hash: KeyHash(secret)})
	if err != nil {
		t.Fatalf("CreateKey(%s): %v", id, err)
	}
	return k
}

func testKeyCreateLookup(t *testing.T, s store.KeyStore) {
	ctx := keyCtx(t)
	before := time.Now().Add(-time.Hour)
	k := mustCreate(t, s, "alice", "Alice's laptop ✓", "ebx_secret-a")
	if k.ID != "alice" || k.Name != "Alice's laptop ✓" || !k.Active() {
		t.Fatalf("CreateKey = %+v", k)
	}
	if k.CreatedAt.Before(before) || k.CreatedAt.After(time.Now().Add(time.Hour)) {
		t.Errorf("CreatedAt = %v, want about now", k.CreatedAt)
	}
	got, err := s.LookupKey(ctx, KeyHash("ebx_secret-a"))
	if err != nil {
		t.Fatalf("LookupKey: %v", err)
	}
	if got != k {
		t.Errorf("LookupKey = %+v, want %+v", got, k)
	}
	for _, wrong := range []string{"", "ebx_secret-b", "ebx_secret-a "} {
		if _, err := s.LookupKey(ctx, KeyHash(wrong)); !errors.Is(err, store.ErrKeyNotFound) {
			t.Errorf("LookupKey(hash of %q) err = %v, want ErrKeyNotFound", wrong, err)
		}
	}
	if _, err := s.LookupKey(ctx, [32]byte{}); !errors.Is(err, store.ErrKeyNotFound) {
		t.Errorf("LookupKey(zero hash) err = %v, want ErrKeyNotFound", err)
	}
}

func testKeyDuplicate(t *testing.T, s store.KeyStore) {
	ctx := keyCtx(t)
	mustCreate(t, s, "dup", "first", "s1")
	for _, tc := range []struct {
		name string
		k    store.NewKey
	}{
		{"same id", store.NewKey{ID: "dup", Name: "second", Hash: KeyHash("s2")}},
		{"same secret", store.NewKey{ID: "other", Hash: KeyHash("s1")}},
	} {
		if _, err := s.CreateKey(ctx, tc.k); !errors.Is(err, store.ErrKeyExists) {
			t.Errorf("%s: CreateKey err = %v, want ErrKeyExists", tc.name, err)
		}
	}
	// Revoked ids stay taken: submissions still carry them.
	if _, err := s.RevokeKey(ctx, "dup"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateKey(ctx, store.NewKey{ID: "dup", Hash: KeyHash("s3")}); !errors.Is(err, store.ErrKeyExists) {
		t.Errorf("reusing a revoked id: err = %v, want ErrKeyExists", err)
	}
	if k, err := s.LookupKey(ctx, KeyHash("s2")); !errors.Is(err, store.ErrKeyNotFound) {
		t.Errorf("refused key was stored: %+v %v", k, err)
	}
}

func testKeyDuplicateConcurrent(t *testing.T, s store.KeyStore) {
	ctx := keyCtx(t)
	const n = 6
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, dups int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.CreateKey(ctx, store.NewKey{ID: "race", Hash: KeyHash(fmt.Sprint("race-", i))})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, store.ErrKeyExists):
				dups++
			default:
				t.Errorf("CreateKey: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || dups != n-1 {
		t.Errorf("%d concurrent creates of one id: %d succeeded, %d got ErrKeyExists; want 1 and %d", n, ok, dups, n-1)
	}
}

func testKeyRevoke(t *testing.T, s store.KeyStore) {
	ctx := keyCtx(t)
	mustCreate(t, s, "gone", "", "s-gone")
	mustCreate(t, s, "kept", "", "s-kept")
	k, err := s.RevokeKey(ctx, "gone")
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	if k.ID != "gone" || k.Active() || k.RevokedAt.Before(k.CreatedAt) {
		t.Fatalf("RevokeKey = %+v", k)
	}
	if _, err := s.LookupKey(ctx, KeyHash("s-gone")); !errors.Is(err, store.ErrKeyNotFound) {
		t.Errorf("LookupKey of a revoked key: err = %v, want ErrKeyNotFound", err)
	}
	if got, err := s.LookupKey(ctx, KeyHash("s-kept")); err != nil || got.ID != "kept" {
		t.Errorf("LookupKey of the other key = %+v, %v", got, err)
	}
	again, err := s.RevokeKey(ctx, "gone")
	if err != nil {
		t.Fatalf("RevokeKey again: %v", err)
	}
	if !again.RevokedAt.Equal(k.RevokedAt) {
		t.Errorf("revoking twice moved revoked_at from %v to %v", k.RevokedAt, again.RevokedAt)
	}
	if _, err := s.RevokeKey(ctx, "never"); !errors.Is(err, store.ErrKeyNotFound) {
		t.Errorf("RevokeKey(unknown) err = %v, want ErrKeyNotFound", err)
	}
}

func testKeyList(t *testing.T, s store.KeyStore) {
	ctx := keyCtx(t)
	keys, err := s.ListKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys on an empty store = %+v, %v", keys, err)
	}
	var want []store.Key
	for _, id := range []string{"k1", "k2", "k3"} {
		want = append(want, mustCreate(t, s, id, "name of "+id, "secret-"+id))
	}
	r, err := s.RevokeKey(ctx, "k2")
	if err != nil {
		t.Fatal(err)
	}
	want[1] = r
	keys, err = s.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("ListKeys = %+v, want %+v", keys, want)
	}
	for i := range want {
		if keys[i] != want[i] {
			t.Errorf("ListKeys[%d] = %+v, want %+v", i, keys[i], want[i])
		}
	}
}

func testKeyInvalid(t *testing.T, s store.KeyStore) {
	ctx := keyCtx(t)
	long := make([]byte, store.MaxKeyIDLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		k    store.NewKey
	}{
		{"empty id", store.NewKey{Hash: KeyHash("x")}},
		{"long id", store.NewKey{ID: string(long), Hash: KeyHash("x")}},
		{"id with a space", store.NewKey{ID: "a b", Hash: KeyHash("x")}},
		{"id with a colon", store.NewKey{ID: "a:b", Hash: KeyHash("x")}},
		{"name with NUL", store.NewKey{ID: "a", Name: "x\x00y", Hash: KeyHash("x")}},
		{"name not UTF-8", store.NewKey{ID: "a", Name: "\xff", Hash: KeyHash("x")}},
		{"no hash", store.NewKey{ID: "a"}},
	} {
		if _, err := s.CreateKey(ctx, tc.k); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: CreateKey err = %v, want ErrInvalid", tc.name, err)
		}
	}
	if keys, err := s.ListKeys(ctx); err != nil || len(keys) != 0 {
		t.Errorf("invalid keys were stored: %+v %v", keys, err)
	}
}
