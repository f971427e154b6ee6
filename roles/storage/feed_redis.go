package storage

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/redisq"
)

// newRedisFeed connects to the queue's results stream in Redis (the storage
// consumer group of pkg/redisq). Connecting is lazy: reads fail, and are
// retried, while Redis is down.
func newRedisFeed(cfg Config, log *slog.Logger) (queue.ResultFeed, func(), error) {
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("storage: --redis-url: %w", err)
	}
	opt.PoolSize = 4 // one blocked XREADGROUP, acks, pings
	rdb := redis.NewClient(opt)
	q := redisq.New(rdb, redisq.Options{Prefix: cfg.RedisPrefix, Log: log})
	closeFeed := func() {
		// Close waits for redisq's notification listener, which can stay
		// blocked in a pub/sub read; storage does not use notifications,
		// so do not let that hold up shutdown.
		done := make(chan struct{})
		go func() { _ = q.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			log.Warn("redis notification listener did not stop within 2s; closing anyway")
		}
		_ = rdb.Close()
	}
	return q, closeFeed, nil
}
