package redisq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/queue"
)

// The results feed (queue.ResultFeed): finished submissions on the results
// stream, read by the storage consumer group.

// Read implements queue.ResultFeed. A consumer first gets back the entries it
// read before a restart and never acknowledged, then entries idle with other
// consumers for FeedRedeliver, then new ones.
func (q *Queue) Read(ctx context.Context, consumerName string, max int, block time.Duration) ([]queue.FeedItem, error) {
	if max <= 0 {
		max = 1
	}
	if err := q.ensureGroups(ctx, false); err != nil {
		return nil, err
	}
	q.feedMu.Lock()
	done := q.feedDone[consumerName]
	q.feedMu.Unlock()
	if !done {
		items, err := q.readGroup(ctx, consumerName, max, -1, "0")
		if err != nil || len(items) > 0 {
			return items, err
		}
		q.feedMu.Lock()
		q.feedDone[consumerName] = true
		q.feedMu.Unlock()
	}
	deadline := time.Now().Add(block)
	for {
		msgs, _, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: q.results, Group: q.opts.FeedGroup, Consumer: consumerName,
			MinIdle: q.opts.FeedRedeliver, Start: "0-0", Count: int64(max),
		}).Result()
		if err != nil {
			return nil, q.feedErr(ctx, err)
		}
		if items := q.items(ctx, msgs); len(items) > 0 {
			return items, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		items, err := q.readGroup(ctx, consumerName, max, min(left, q.opts.FeedRedeliver), ">")
		if err != nil || len(items) > 0 {
			return items, err
		}
	}
}

func (q *Queue) feedErr(ctx context.Context, err error) error {
	if strings.Contains(err.Error(), "NOGROUP") {
		_ = q.ensureGroups(ctx, true)
	}
	return fmt.Errorf("redisq: read results: %w", redisErr(err))
}

// readGroup reads up to max entries; block < 0 means do not block.
func (q *Queue) readGroup(ctx context.Context, consumerName string, max int, block time.Duration, from string) ([]queue.FeedItem, error) {
	if block >= 0 && block < time.Millisecond {
		// Redis takes BLOCK in whole milliseconds and BLOCK 0 waits
		// forever: a remaining wait under 1 ms must not round down to it
		// (go-redis would then give up only after its 10 s grace).
		block = time.Millisecond
	}
	// go-redis does not interrupt a command when its context ends: a
	// blocked XREADGROUP holds the caller for the whole BLOCK time (seconds
	// for storage's consumer, which then delays its shutdown). So the read
	// runs on its own and a canceled Read returns at once. Entries that the
	// abandoned read still takes stay pending with this consumer; forgetting
	// that its pending entries were re-read makes the next Read return them
	// first, so nothing waits for FeedRedeliver.
	var (
		streams []redis.XStream
		err     error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		streams, err = q.rdb.XReadGroup(context.WithoutCancel(ctx), &redis.XReadGroupArgs{
			Group: q.opts.FeedGroup, Consumer: consumerName, Streams: []string{q.results, from},
			Count: int64(max), Block: block,
		}).Result()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		go func() {
			<-done
			for _, s := range streams {
				if len(s.Messages) > 0 {
					q.feedMu.Lock()
					delete(q.feedDone, consumerName)
					q.feedMu.Unlock()
					return
				}
			}
		}()
		return nil, fmt.Errorf("redisq: read results: %w", ctx.Err())
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, q.feedErr(ctx, err)
	}
	var msgs []redis.XMessage
	for _, s := range streams {
		msgs = append(msgs, s.Messages...)
	}
	return q.items(ctx, msgs), nil
}

// items decodes feed entries; deleted or undecodable ones are acknowledged
// and dropped (a corrupt entry would otherwise come back forever).
func (q *Queue) items(ctx context.Context, msgs []redis.XMessage) []queue.FeedItem {
	out := make([]queue.FeedItem, 0, len(msgs))
	var bad []string
	for _, m := range msgs {
		if len(m.Values) == 0 {
			bad = append(bad, m.ID)
			continue
		}
		h := make(map[string]string, len(m.Values))
		for k, v := range m.Values {
			h[k], _ = v.(string)
		}
		s, err := decode(h)
		if err != nil {
			q.opts.Log.Error("results stream: dropping undecodable entry", "entry", m.ID, "err", err)
			bad = append(bad, m.ID)
			continue
		}
		out = append(out, queue.FeedItem{ID: m.ID, Submission: s})
	}
	if len(bad) > 0 {
		_ = q.Ack(ctx, bad...)
	}
	return out
}

// Ack implements queue.ResultFeed: acknowledged entries are deleted.
func (q *Queue) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, q.results, q.opts.FeedGroup, ids...)
		p.XDel(ctx, q.results, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisq: ack results: %w", err)
	}
	return nil
}
