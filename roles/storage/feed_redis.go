package storage

import (
	"fmt"
	"log/slog"

	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
)

// newRedisFeed connects to the queue's results stream in Redis (the storage
// consumer group of pkg/redisq). Connecting is lazy: reads fail, and are
// retried, while Redis is down.
func newRedisFeed(cfg Config, log *slog.Logger) (queue.ResultFeed, func(), error) {
	// One blocked XREADGROUP, acks, pings.
	rdb, err := redisq.NewClient(cfg.RedisURL, redisq.ClientSettings{PoolSize: 4})
	if err != nil {
		return nil, nil, fmt.Errorf("storage: --redis-url: %w", err)
	}
	q := redisq.New(rdb, redisq.Options{Prefix: cfg.RedisPrefix, Log: log})
	closeFeed := func() {
		_ = q.Close() // returns at once (storage never starts the listener)
		_ = rdb.Close()
	}
	return q, closeFeed, nil
}
