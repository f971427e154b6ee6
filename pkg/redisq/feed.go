package redisq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/queue"
)

// The feeds: finished submissions on the results stream, read by the
// storage consumer group (queue.ResultFeed), and the ids of finished
// submissions with a callback_url on the callbacks stream, read by the
// gateways' group (queue.CallbackFeed). Both are consumed the same way.

// streamFeed is one stream and its consumer group.
type streamFeed struct {
	name   string // for errors: "results", "callbacks"
	stream string
	group  string
	// decode turns an entry's fields into the item's submission.
	decode func(map[string]string) (job.Submission, error)

	mu sync.Mutex
	// pos is where each consumer's re-reading of its own pending entries
	// stands: absent is from the start ("0"), "" is done.
	pos map[string]string
}

func newStreamFeed(name, stream, group string, decode func(map[string]string) (job.Submission, error)) *streamFeed {
	return &streamFeed{name: name, stream: stream, group: group, decode: decode, pos: map[string]string{}}
}

// decodeID reads a callbacks entry: the submission's id alone.
func decodeID(h map[string]string) (job.Submission, error) {
	if h["id"] == "" {
		return job.Submission{}, errors.New("entry without an id")
	}
	return job.Submission{ID: h["id"]}, nil
}

// Read implements queue.ResultFeed. A consumer first gets back the entries it
// read before a restart and never acknowledged, then entries idle with other
// consumers for FeedRedeliver, then new ones.
func (q *Queue) Read(ctx context.Context, consumerName string, max int, block time.Duration) ([]queue.FeedItem, error) {
	return q.readFeed(ctx, q.resFeed, consumerName, max, block)
}

// Ack implements queue.ResultFeed: acknowledged entries are deleted.
func (q *Queue) Ack(ctx context.Context, ids ...string) error { return q.ackFeed(ctx, q.resFeed, ids) }

// ReadCallbacks implements queue.CallbackFeed, as Read does; resume (a
// consumer that restarted while this process did not) re-reads the
// consumer's unacknowledged entries first.
func (q *Queue) ReadCallbacks(ctx context.Context, consumerName string, max int, block time.Duration, resume bool) ([]queue.FeedItem, error) {
	if resume {
		q.cbFeed.mu.Lock()
		delete(q.cbFeed.pos, consumerName)
		q.cbFeed.mu.Unlock()
	}
	return q.readFeed(ctx, q.cbFeed, consumerName, max, block)
}

// AckCallbacks implements queue.CallbackFeed.
func (q *Queue) AckCallbacks(ctx context.Context, ids ...string) error {
	return q.ackFeed(ctx, q.cbFeed, ids)
}

// RecordCallback implements queue.CallbackFeed.
func (q *Queue) RecordCallback(ctx context.Context, id string, st job.CallbackState) error {
	body, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("redisq: encode callback state: %w", err)
	}
	res, err := q.run(ctx, recordCallbackScript, []string{q.jobP + id}, body)
	if err != nil {
		return fmt.Errorf("redisq: record callback: %w", err)
	}
	if n, _ := res.(int64); n == 0 {
		return queue.ErrNotFound
	}
	return nil
}

func (q *Queue) readFeed(ctx context.Context, f *streamFeed, consumerName string, max int, block time.Duration) ([]queue.FeedItem, error) {
	if max <= 0 {
		max = 1
	}
	if err := q.ensureGroups(ctx, false); err != nil {
		return nil, redisErr(err)
	}
	f.mu.Lock()
	from, ok := f.pos[consumerName]
	if !ok {
		from = "0"
	}
	f.mu.Unlock()
	if from != "" {
		// Each pending entry once: the next read goes on after the last.
		items, err := q.readGroup(ctx, f, consumerName, max, -1, from)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		if len(items) > 0 {
			f.pos[consumerName] = items[len(items)-1].ID
		} else {
			f.pos[consumerName] = ""
		}
		f.mu.Unlock()
		if len(items) > 0 {
			return items, nil
		}
	}
	deadline := time.Now().Add(block)
	for {
		msgs, _, err := q.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: f.stream, Group: f.group, Consumer: consumerName,
			MinIdle: q.opts.FeedRedeliver, Start: "0-0", Count: int64(max),
		}).Result()
		if err != nil {
			return nil, q.feedErr(ctx, f, err)
		}
		if items := q.items(ctx, f, msgs); len(items) > 0 {
			return items, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, nil
		}
		items, err := q.readGroup(ctx, f, consumerName, max, min(left, q.opts.FeedRedeliver), ">")
		if err != nil || len(items) > 0 {
			return items, err
		}
	}
}

func (q *Queue) feedErr(ctx context.Context, f *streamFeed, err error) error {
	if strings.Contains(err.Error(), "NOGROUP") {
		_ = q.ensureGroups(ctx, true)
	}
	return fmt.Errorf("redisq: read %s: %w", f.name, redisErr(err))
}

// readGroup reads up to max entries; block < 0 means do not block.
func (q *Queue) readGroup(ctx context.Context, f *streamFeed, consumerName string, max int, block time.Duration, from string) ([]queue.FeedItem, error) {
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
			Group: f.group, Consumer: consumerName, Streams: []string{f.stream, from},
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
					f.mu.Lock()
					delete(f.pos, consumerName)
					f.mu.Unlock()
					return
				}
			}
		}()
		return nil, fmt.Errorf("redisq: read %s: %w", f.name, ctx.Err())
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, q.feedErr(ctx, f, err)
	}
	var msgs []redis.XMessage
	for _, s := range streams {
		msgs = append(msgs, s.Messages...)
	}
	return q.items(ctx, f, msgs), nil
}

// items decodes feed entries; deleted or undecodable ones are acknowledged
// and dropped (a corrupt entry would otherwise come back forever).
func (q *Queue) items(ctx context.Context, f *streamFeed, msgs []redis.XMessage) []queue.FeedItem {
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
		s, err := f.decode(h)
		if err != nil {
			q.opts.Log.Error(f.name+" stream: dropping undecodable entry", "entry", m.ID, "err", err)
			bad = append(bad, m.ID)
			continue
		}
		out = append(out, queue.FeedItem{ID: m.ID, Submission: s})
	}
	if len(bad) > 0 {
		_ = q.ackFeed(ctx, f, bad)
	}
	return out
}

// ackFeed acknowledges and deletes entries.
func (q *Queue) ackFeed(ctx context.Context, f *streamFeed, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := q.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, f.stream, f.group, ids...)
		p.XDel(ctx, f.stream, ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redisq: ack %s: %w", f.name, redisErr(err))
	}
	return nil
}
