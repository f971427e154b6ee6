package redisq_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/redisq"
)

func TestDeletePrefix(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rdb, base := rdbFor(t)
	tests := []struct {
		name   string
		prefix string
		keys   []string // created, under base
		left   []string // expected to remain
	}{
		{"plain", "a:", []string{"a:1", "a:2", "ab", "b:a:1"}, []string{"ab", "b:a:1"}},
		{"glob characters are literal", "g*[x]?:", []string{"g*[x]?:1", "gz[x]?:1", "g*x?:1"}, []string{"gz[x]?:1", "g*x?:1"}},
		{"nothing to delete", "none:", []string{"other"}, []string{"other"}},
		{"many keys", "m:", manyKeys("m:", 2500), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := base + tc.name + "/" // no glob characters
			pipe := rdb.Pipeline()
			for _, k := range tc.keys {
				pipe.Set(ctx, dir+k, "v", 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if err := redisq.DeletePrefix(ctx, rdb, dir+tc.prefix); err != nil {
				t.Fatal(err)
			}
			var left []string
			iter := rdb.Scan(ctx, 0, dir+"*", 1000).Iterator()
			for iter.Next(ctx) {
				if k, ok := strings.CutPrefix(iter.Val(), dir); ok {
					left = append(left, k)
				}
			}
			if err := iter.Err(); err != nil {
				t.Fatal(err)
			}
			slices.Sort(left)
			want := slices.Sorted(slices.Values(tc.left))
			if !slices.Equal(left, want) {
				t.Fatalf("keys left = %q, want %q", left, want)
			}
		})
	}
}

func manyKeys(prefix string, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = prefix + strconv.Itoa(i)
	}
	return keys
}
