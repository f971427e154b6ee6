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
	redisURL, _ := testenv.Redis(t)
	rates, err := Storage(ctx, StorageOptions{DatabaseURL: testenv.Postgres(t), Results: 600, SingleRows: 100,
		BatchSize: 100, RedisURL: redisURL, RedisResults: 300}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rates) != 4 {
		t.Fatalf("got %d modes, want 4:\n%s", len(rates), out.String())
	}
	for _, r := range rates {
		if r.PerSec <= 0 || r.Elapsed <= 0 {
			t.Errorf("%s: %+v", r.Name, r)
		}
	}
	if rates[0].Ratio != 1 || !strings.Contains(out.String(), "storage consumer, Redis stream:") {
		t.Errorf("report:\n%s", out.String())
	}
}
