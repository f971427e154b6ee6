package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/execbox/app/pkg/testenv"
)

func TestStorage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	rates, err := Storage(ctx, StorageOptions{DatabaseURL: testenv.Postgres(t), Results: 600, SingleRows: 100, BatchSize: 100}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != 3 {
		t.Fatalf("got %d modes, want 3", len(rates))
	}
	for _, r := range rates {
		if r.PerSec <= 0 || r.Elapsed <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if rates[0].Ratio != 1 || !strings.Contains(out.String(), "storage consumer:") {
		t.Errorf("report:\n%s", out.String())
	}
}
