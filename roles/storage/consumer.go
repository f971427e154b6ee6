package storage

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/execbox/app/pkg/backoff"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/memtrim"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/store"
)

// newBackoff is the retry delay of every storage loop: 100 ms doubling up
// to MaxBackoff, ±20% jitter, reset after a success.
func (r *Role) newBackoff() *backoff.Backoff {
	return &backoff.Backoff{Min: 100 * time.Millisecond, Max: r.cfg.MaxBackoff, Jitter: 0.2}
}

// consume reads the feed in batches and hands each batch to one of
// cfg.Writers writers, which write it with one Put and acknowledge it only
// after the write committed. A failed write is retried with backoff until it
// succeeds (the feed redelivers anything unacknowledged after a crash, and
// Put is idempotent, so at-least-once delivery ends up exactly once in the
// table). With two writers the database works on one batch while the next is
// read and encoded; at most Writers+1 batches are in memory, and while
// writes fail (the database is away) no further batch is read, so an outage
// holds only the batches the writers retry and its catch-up starts from
// there: memory stays bounded however long the outage.
func (r *Role) consume(ctx context.Context) {
	r.log.Info("consuming results", "consumer", r.cfg.Consumer, "batch", r.cfg.BatchSize, "writers", r.cfg.Writers)
	batches := make(chan []queue.FeedItem)
	var wg sync.WaitGroup
	for range r.cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeBo, ackBo := r.newBackoff(), r.newBackoff()
			for items := range batches {
				if !r.write(ctx, items, writeBo) {
					continue // ctx ended; the unacknowledged items will come again
				}
				r.ack(ctx, items, ackBo)
			}
		}()
	}
	defer wg.Wait()
	defer close(batches)
	readBo := r.newBackoff()
	for ctx.Err() == nil {
		if r.writeFailing() {
			backoff.Sleep(ctx, 200*time.Millisecond)
			continue
		}
		items, err := r.feed.Read(ctx, r.cfg.Consumer, r.cfg.BatchSize, r.cfg.ReadBlock)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.setReadErr(err)
			r.metrics.readErrors.Inc()
			r.log.Warn("reading the results feed failed, retrying", "err", err, "retry_in", readBo.Peek())
			_ = readBo.Wait(ctx)
			continue
		}
		readBo.Reset()
		r.setReadErr(nil)
		if len(items) == 0 {
			r.metrics.lag.Set(0)
			continue
		}
		select {
		case batches <- items:
		case <-ctx.Done():
			return
		}
	}
}

// write stores the batch, retrying until it commits. It returns false when
// ctx ended first.
func (r *Role) write(ctx context.Context, items []queue.FeedItem, bo *backoff.Backoff) bool {
	subs := make([]job.Submission, len(items))
	for i, it := range items {
		subs[i] = it.Submission
	}
	failed := false
	for {
		start := time.Now()
		err := r.store.Put(ctx, subs)
		if err == nil {
			r.metrics.observeWrite(len(subs), time.Since(start))
			r.observeLag(subs)
			r.setWriteErr(nil)
			bo.Reset()
			if failed {
				r.trim(true)
			}
			return true
		}
		failed = true
		if ctx.Err() != nil {
			return false
		}
		r.metrics.writeErrors.Inc()
		if errors.Is(err, store.ErrInvalid) {
			// Some submission can never be written: write the others one
			// by one and drop (log) the bad ones rather than block forever.
			if r.writeEach(ctx, subs) {
				return true
			}
			if ctx.Err() != nil {
				return false
			}
		}
		r.setWriteErr(err)
		r.trim(false)
		r.log.Warn("writing results failed, retrying", "err", err, "batch", len(subs), "retry_in", bo.Peek())
		if bo.Wait(ctx) != nil {
			return false
		}
	}
}

// writeEach writes subs one at a time, dropping those rejected as invalid.
// It returns false if any other error occurred.
func (r *Role) writeEach(ctx context.Context, subs []job.Submission) bool {
	for _, s := range subs {
		start := time.Now()
		err := r.store.Put(ctx, []job.Submission{s})
		switch {
		case err == nil:
			r.metrics.observeWrite(1, time.Since(start))
		case errors.Is(err, store.ErrInvalid):
			r.metrics.dropped.Inc()
			r.log.Error("dropping a result that cannot be stored", "id", s.ID, "err", err)
		default:
			return false
		}
	}
	r.setWriteErr(nil)
	return true
}

// ack acknowledges the items, retrying while the feed is unreachable. If ctx
// ends first they are redelivered later and written again, harmlessly.
func (r *Role) ack(ctx context.Context, items []queue.FeedItem, bo *backoff.Backoff) {
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	for {
		err := r.feed.Ack(ctx, ids...)
		if err == nil {
			r.metrics.acked.Add(float64(len(ids)))
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("acknowledging results failed, retrying", "err", err, "retry_in", bo.Peek())
		if bo.Wait(ctx) != nil {
			return
		}
	}
}

// observeLag records how long ago the oldest result of the batch finished.
func (r *Role) observeLag(subs []job.Submission) {
	var oldest time.Time
	for _, s := range subs {
		t := s.FinishedAt
		if t.IsZero() && s.Result != nil {
			t = s.Result.FinishedAt
		}
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	now := r.now()
	if !oldest.IsZero() {
		r.metrics.lag.Set(max(0, now.Sub(oldest).Seconds()))
	}
	r.mu.Lock()
	r.lastWrite = now
	r.mu.Unlock()
}

// trimEvery bounds how often an outage gives memory back.
const trimEvery = 2 * time.Second

// trim gives back to the kernel (unless forced, at most every trimEvery) what an outage
// made resident: the error paths' pages of the executable (faulted in 64 KiB
// blocks) and the heap its retries left free (see pkg/memtrim). Called
// while writes fail and once they succeed again, it keeps storage within
// its budget through an outage and its catch-up.
func (r *Role) trim(force bool) {
	r.mu.Lock()
	due := force || time.Since(r.lastTrim) >= trimEvery
	if due {
		r.lastTrim = time.Now()
	}
	r.mu.Unlock()
	if due {
		if _, err := memtrim.Release(); err != nil && !errors.Is(err, memtrim.ErrUnsupported) {
			r.log.Debug("memory trim failed", "err", err)
		}
	}
}

// writeFailing reports whether the last write failed (and none succeeded
// since).
func (r *Role) writeFailing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writeErr != nil
}

func (r *Role) setWriteErr(err error) {
	r.mu.Lock()
	r.writeErr = err
	r.mu.Unlock()
}

func (r *Role) setReadErr(err error) {
	r.mu.Lock()
	r.readErr = err
	r.mu.Unlock()
}

// retain deletes results older than the retention period in small batches
// (short transactions, no long locks), pausing between sweeps.
func (r *Role) retain(ctx context.Context) {
	t := time.NewTicker(r.cfg.RetentionInterval)
	defer t.Stop()
	for {
		cutoff := r.now().Add(-r.cfg.Retention)
		total := 0
		for ctx.Err() == nil {
			n, err := r.store.DeleteBefore(ctx, cutoff, r.cfg.RetentionBatch)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Warn("retention sweep failed", "err", err)
				}
				break
			}
			total += n
			r.metrics.deleted.Add(float64(n))
			if n < r.cfg.RetentionBatch {
				break
			}
		}
		if total > 0 {
			r.log.Info("retention sweep", "deleted", total, "before", cutoff)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
