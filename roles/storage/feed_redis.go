package storage

import (
	"errors"

	"github.com/execbox/app/pkg/queue"
)

// newRedisFeed connects to the queue's Redis results stream.
func newRedisFeed(cfg Config) (queue.ResultFeed, func(), error) {
	return nil, nil, errors.New("storage: the Redis results stream (pkg/redisq) is not available yet")
}
