package redisq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// batcher sends concurrent script calls to Redis in pipelines: whatever
// calls are waiting when a connection is free go out in one round trip.
// Nothing waits to fill a batch, so a lone call costs what it would alone;
// under load each round trip carries many calls, which is what lifts
// throughput above the round-trip rate.
type batcher struct {
	rdb  redis.UniversalClient
	ch   chan *call
	wait waitReplicas
}

// waitReplicas, when n > 0, ends every pipeline of script calls with
// WAIT n timeout: a call answers only after n replicas have its writes, or
// fails with ErrNotReplicated (its writes are done on the master, and may
// be lost in a failover; callers retry, every write is idempotent).
type waitReplicas struct {
	n       int
	timeout time.Duration
}

// ErrNotReplicated: fewer replicas than Options.WaitReplicas acknowledged a
// write within Options.WaitTimeout.
var ErrNotReplicated = errors.New("redis: write not acknowledged by enough replicas")

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

func newBatcher(ctx context.Context, rdb redis.UniversalClient, senders int, wait waitReplicas) *batcher {
	b := &batcher{rdb: rdb, ch: make(chan *call), wait: wait}
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
	if len(live) == 1 && b.wait.n <= 0 {
		c := live[0]
		c.res, c.err = c.script.Run(c.ctx, b.rdb, c.keys, c.args...).Result()
		close(c.done)
		return
	}
	// One pipeline for all; its context is the first caller's without its
	// cancellation, since the others depend on it too.
	ctx := context.WithoutCancel(live[0].ctx)
	cmds := make([]*redis.Cmd, len(live))
	var wait *redis.IntCmd
	_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range live {
			cmds[i] = c.script.EvalSha(ctx, p, c.keys, c.args...)
		}
		wait = b.waitCmd(ctx, p)
		return nil
	})
	waitErr := b.waited(wait)
	for i, c := range live {
		c.res, c.err = cmds[i].Result()
		if c.err != nil && strings.HasPrefix(c.err.Error(), "NOSCRIPT") {
			// Redis restarted and lost its script cache: Run loads it.
			var w *redis.IntCmd
			_, _ = b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				cmds[i] = c.script.Eval(ctx, p, c.keys, c.args...)
				w = b.waitCmd(ctx, p)
				return nil
			})
			c.res, c.err = cmds[i].Result()
			if c.err == nil {
				c.err = b.waited(w)
			}
		} else if c.err == nil || errors.Is(c.err, redis.Nil) {
			c.err = cmp.Or(waitErr, c.err)
		}
		if errors.Is(c.err, redis.Nil) {
			c.res, c.err = nil, redis.Nil
		}
		close(c.done)
	}
}

// waitCmd appends WAIT to p when replicas are to be waited for.
func (b *batcher) waitCmd(ctx context.Context, p redis.Pipeliner) *redis.IntCmd {
	if b.wait.n <= 0 {
		return nil
	}
	cmd := redis.NewIntCmd(ctx, "wait", b.wait.n, b.wait.timeout.Milliseconds())
	_ = p.Process(ctx, cmd)
	return cmd
}

// waited says whether WAIT saw enough replicas (nil when not waiting).
func (b *batcher) waited(w *redis.IntCmd) error {
	if w == nil {
		return nil
	}
	n, err := w.Result()
	switch {
	case err != nil:
		return fmt.Errorf("%w: WAIT: %w", ErrNotReplicated, err)
	case n < int64(b.wait.n):
		return fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, n, b.wait.n, b.wait.timeout)
	}
	return nil
}
