package redisq_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuetest"
	"github.com/execbox/app/pkg/redisq"
	"github.com/execbox/app/pkg/testenv"
)

// newQueue returns a queue on the shared test Redis under a per-test prefix.
func newQueue(t *testing.T, o redisq.Options) *redisq.Queue {
	t.Helper()
	url, prefix := testenv.Redis(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	o.Prefix = prefix
	q := redisq.New(rdb, o)
	t.Cleanup(func() {
		q.Close()
		rdb.Close()
	})
	return q
}

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) queue.Queue {
		return newQueue(t, redisq.Options{
			Visibility: o.Visibility, MaxDeliveries: o.MaxDeliveries, MaxLength: o.MaxLength, FeedRedeliver: o.FeedRedeliver,
		})
	})
}
