package storehttp

import (
	"errors"
	"fmt"
	"testing"

	"github.com/execbox/app/pkg/store"
)

// TestCodesRoundTrip checks that every store sentinel the server answers
// comes back from the client as itself.
func TestCodesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, err := range []error{store.ErrNotFound, store.ErrInvalid, store.ErrKeyNotFound, store.ErrKeyExists} {
		t.Run(err.Error(), func(t *testing.T) {
			t.Parallel()
			p, ok := Problem(fmt.Errorf("op: %w", err))
			if !ok || p.Code == "" || p.Status < 400 {
				t.Fatalf("Problem = %+v, %v; want a coded problem", p, ok)
			}
			if got := Sentinel(&p); !errors.Is(got, err) {
				t.Fatalf("Sentinel(%s) = %v, want %v", p.Code, got, err)
			}
		})
	}
	if _, ok := Problem(errors.New("database down")); ok {
		t.Error("an error that is no sentinel got a sentinel's problem")
	}
}
