package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// Live forwarding: a job's output events go from the executor's sink into
// a bounded buffer here and from there, in batches, to the queue's live
// stream; an interactive job's inputs come from the queue's input stream.
// A slow queue drops events here (the offsets of later events say how many
// bytes), never slows the executor.

// maxLiveBuffer bounds the output a job's forwarder holds.
const maxLiveBuffer = 256 << 10

// liveJob forwards one job's live streams.
type liveJob struct {
	hub live.Hub
	id  string
	log *slog.Logger

	mu      sync.Mutex
	buf     []live.Event
	bytes   int
	nextSeq int64
	ended   bool
	wake    chan struct{}

	in       chan live.Input
	stopIn   context.CancelFunc
	pubDone  chan struct{}
	readDone chan struct{}
}

// startLive starts forwarding for j (nil without a hub: output is not
// streamed and an interactive job gets no input).
func (r *Role) startLive(ctx context.Context, j job.Job, log *slog.Logger) *liveJob {
	if r.hub == nil {
		return nil
	}
	lj := &liveJob{hub: r.hub, id: j.ID, log: log, wake: make(chan struct{}, 1), pubDone: make(chan struct{}), readDone: make(chan struct{})}
	go lj.publish(context.WithoutCancel(ctx))
	inCtx, cancel := context.WithCancel(ctx)
	lj.stopIn = cancel
	if j.Request.Interactive != nil {
		lj.in = make(chan live.Input, 64)
		go lj.readInput(inCtx)
	} else {
		close(lj.readDone)
	}
	return lj
}

// io is what the executor gets.
func (lj *liveJob) io() live.IO {
	if lj == nil {
		return live.IO{}
	}
	lio := live.IO{Output: lj.sink}
	if lj.in != nil {
		lio.Input = lj.in
	}
	return lio
}

func (lj *liveJob) sink(ev live.Event) {
	lj.mu.Lock()
	defer lj.mu.Unlock()
	if lj.ended || lj.bytes+len(ev.Data) > maxLiveBuffer {
		return
	}
	lj.buf = append(lj.buf, ev)
	lj.bytes += len(ev.Data)
	lj.nextSeq = max(lj.nextSeq, ev.Seq+1)
	select {
	case lj.wake <- struct{}{}:
	default:
	}
}

func (lj *liveJob) publish(ctx context.Context) {
	defer close(lj.pubDone)
	for {
		lj.mu.Lock()
		batch, ended := lj.buf, lj.ended
		lj.buf, lj.bytes = nil, 0
		lj.mu.Unlock()
		for len(batch) > 0 {
			n := min(len(batch), 128)
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := lj.hub.Publish(pctx, lj.id, batch[:n]...); err != nil {
				lj.log.Debug("live output not forwarded", "err", err, "events", n)
			}
			cancel()
			batch = batch[n:]
		}
		if ended {
			lj.mu.Lock()
			empty := len(lj.buf) == 0
			lj.mu.Unlock()
			if empty {
				return
			}
			continue
		}
		<-lj.wake
	}
}

// readInput feeds the job's input stream to the executor until ctx ends.
func (lj *liveJob) readInput(ctx context.Context) {
	defer close(lj.readDone)
	cursor := ""
	for ctx.Err() == nil {
		ins, next, err := lj.hub.Input(ctx, lj.id, cursor, 20*time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			lj.log.Debug("live input read failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		cursor = next
		for _, in := range ins {
			select {
			case lj.in <- in:
			case <-ctx.Done():
				return
			}
		}
	}
}

// finish publishes what is buffered and the end event, so the stream is
// complete before the result is stored, and stops reading input.
func (lj *liveJob) finish() {
	if lj == nil {
		return
	}
	lj.stopIn()
	<-lj.readDone
	lj.mu.Lock()
	lj.buf = append(lj.buf, live.Event{Seq: lj.nextSeq, Kind: live.KindEnd})
	lj.ended = true
	lj.mu.Unlock()
	select {
	case lj.wake <- struct{}{}:
	default:
	}
	<-lj.pubDone
}

// executeOn runs j on ex, live when ex can.
func executeOn(ctx context.Context, ex executor.Executor, j job.Job, lio live.IO) (job.Result, error) {
	if lx, ok := ex.(executor.LiveExecutor); ok && (lio.Output != nil || lio.Input != nil) {
		return lx.ExecuteLive(ctx, j, lio)
	}
	return ex.Execute(ctx, j)
}
