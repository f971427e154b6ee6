package redisq

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// batcher sends concurrent script calls to Redis in pipelines: whatever
// calls are waiting when a connection is free go out in one round trip.
// Nothing waits to fill a batch, so a lone call costs what it would alone;
// under load each round trip carries many calls, which is what lifts
// throughput above the round-trip rate.
type batcher struct {
	rdb redis.UniversalClient
	ch  chan *call
}

type call struct {
	ctx    context.Context
	script *redis.Script
	keys   []string
	args   []any
	res    any
	err    error
	done   chan struct{}
}

// maxBatch bounds one pipeline.
const maxBatch = 128

func newBatcher(ctx context.Context, rdb redis.UniversalClient, senders int) *batcher {
	b := &batcher{rdb: rdb, ch: make(chan *call)}
	for range senders {
		go b.loop(ctx)
	}
	return b
}

// run queues one script call and waits for its result.
func (b *batcher) run(ctx context.Context, s *redis.Script, keys []string, args ...any) (any, error) {
	c := &call{ctx: ctx, script: s, keys: keys, args: args, done: make(chan struct{})}
	select {
	case b.ch <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-c.done:
		return c.res, c.err
	case <-ctx.Done():
		// The call may still run: scripts are written so a caller that left
		// loses nothing (an orphaned lease expires and is delivered again).
		return nil, ctx.Err()
	}
}

func (b *batcher) loop(ctx context.Context) {
	batch := make([]*call, 0, maxBatch)
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return
		case c := <-b.ch:
			batch = append(batch, c)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case c := <-b.ch:
				batch = append(batch, c)
			default:
				break fill
			}
		}
		b.send(batch)
	}
}

func (b *batcher) send(batch []*call) {
	live := batch[:0:0]
	for _, c := range batch {
		if c.ctx.Err() != nil {
			c.err = c.ctx.Err()
			close(c.done)
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return
	}
	if len(live) == 1 {
		c := live[0]
		c.res, c.err = c.script.Run(c.ctx, b.rdb, c.keys, c.args...).Result()
		close(c.done)
		return
	}
	// One pipeline for all; its context is the first caller's without its
	// cancellation, since the others depend on it too.
	ctx := context.WithoutCancel(live[0].ctx)
	cmds := make([]*redis.Cmd, len(live))
	_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range live {
			cmds[i] = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		return nil
	})
	for i, c := range live {
		c.res, c.err = cmds[i].Result()
		if c.err != nil && strings.HasPrefix(c.err.Error(), "NOSCRIPT") {
			// Redis restarted and lost its script cache: Run loads it.
			c.res, c.err = c.script.Run(ctx, b.rdb, c.keys, c.args...).Result()
		}
		if errors.Is(c.err, redis.Nil) {
			c.res, c.err = nil, redis.Nil
		}
		close(c.done)
	}
}
