package redisq

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// globEscaper escapes the characters SCAN MATCH treats as a pattern.
var globEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// DeletePrefix deletes every key that starts with prefix (SCAN and UNLINK,
// so neither blocks Redis), for example a queue's keys (its Options.Prefix
// plus ":") after a test or a benchmark. The prefix is taken literally.
// Keys written while it runs may survive.
func DeletePrefix(ctx context.Context, rdb *redis.Client, prefix string) error {
	match := globEscaper.Replace(prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, match, 1000).Result()
		if err != nil {
			return fmt.Errorf("redisq: scan %s*: %w", prefix, err)
		}
		if len(keys) > 0 {
			if err := rdb.Unlink(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("redisq: unlink %s*: %w", prefix, err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
