package redisq

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/live"
)

// Live streams: one Redis stream per submission for its output and one for
// its input, each capped (XADD MAXLEN ~) and expiring live.TTL after its
// last write. A write publishes on the queue's notification channel, so a
// waiting reader wakes without holding a blocked connection (XREAD BLOCK
// would hold one per reader, and a gateway follows many runs at once).

// liveMaxLen caps each live stream (approximately, as MAXLEN ~ trims).
const liveMaxLen = 256

var _ live.Hub = (*Queue)(nil)

func (q *Queue) liveKey(kind, id string) string { return q.streamP + "live:" + kind + ":" + id }

// liveTopic is the notification of a live stream (never a submission id,
// so it wakes no Watch).
func liveTopic(kind, id string) string { return "live:" + kind + ":" + id }

func (q *Queue) appendLive(ctx context.Context, kind, id string, items ...any) error {
	key := q.liveKey(kind, id)
	_, err := q.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, it := range items {
			b, err := json.Marshal(it)
			if err != nil {
				return err
			}
			p.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: liveMaxLen, Approx: true, Values: []any{"d", b}})
		}
		p.PExpire(ctx, key, live.TTL)
		p.Publish(ctx, q.channel, liveTopic(kind, id))
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisq: live %s %s: %w", kind, id, err)
	}
	return nil
}

// Publish implements live.Hub.
func (q *Queue) Publish(ctx context.Context, id string, evs ...live.Event) error {
	if len(evs) == 0 {
		return nil
	}
	items := make([]any, len(evs))
	for i := range evs {
		items[i] = evs[i]
	}
	return q.appendLive(ctx, "out", id, items...)
}

// SendInput implements live.Hub.
func (q *Queue) SendInput(ctx context.Context, id string, in live.Input) error {
	return q.appendLive(ctx, "in", id, in)
}

// Output implements live.Hub.
func (q *Queue) Output(ctx context.Context, id, cursor string, wait time.Duration) ([]live.Event, string, error) {
	return readLive[live.Event](ctx, q, "out", id, cursor, wait)
}

// Input implements live.Hub.
func (q *Queue) Input(ctx context.Context, id, cursor string, wait time.Duration) ([]live.Input, string, error) {
	return readLive[live.Input](ctx, q, "in", id, cursor, wait)
}

func readLive[T any](ctx context.Context, q *Queue, kind, id, cursor string, wait time.Duration) ([]T, string, error) {
	q.startListener()
	sig, unsubscribe := q.hub.Subscribe(liveTopic(kind, id))
	defer unsubscribe()
	key := q.liveKey(kind, id)
	var timer <-chan time.Time
	for {
		start := "-"
		if cursor != "" {
			start = "(" + cursor
		}
		msgs, err := q.rdb.XRangeN(ctx, key, start, "+", 256).Result()
		if err != nil {
			return nil, cursor, fmt.Errorf("redisq: read live %s %s: %w", kind, id, err)
		}
		if len(msgs) > 0 {
			out := make([]T, 0, len(msgs))
			for _, m := range msgs {
				var v T
				if s, ok := m.Values["d"].(string); ok && json.Unmarshal([]byte(s), &v) == nil {
					out = append(out, v)
				}
			}
			return out, msgs[len(msgs)-1].ID, nil
		}
		if wait <= 0 {
			return nil, cursor, nil
		}
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-sig:
		case <-timer:
			return nil, cursor, nil
		case <-ctx.Done():
			return nil, cursor, ctx.Err()
		}
	}
}
