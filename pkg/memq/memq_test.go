package memq_test

import (
	"context"
	"testing"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
	"github.com/execbox/app/pkg/live/livetest"
	"github.com/execbox/app/pkg/memq"
	"github.com/execbox/app/pkg/queue"
	"github.com/execbox/app/pkg/queue/queuetest"
)

func TestContract(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) queue.Queue {
		q, err := memq.New(context.Background(), memq.Options{
			Visibility: o.Visibility, MaxDeliveries: o.MaxDeliveries, MaxLength: o.MaxLength, FeedRedeliver: o.FeedRedeliver,
		})
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
}

type fakeJournal struct {
	accepted   []job.Submission
	unfinished []job.Submission
}

func (f *fakeJournal) Accepted(_ context.Context, s job.Submission) error {
	f.accepted = append(f.accepted, s)
	return nil
}

func (f *fakeJournal) Unfinished(context.Context) ([]job.Submission, error) { return f.unfinished, nil }

func TestJournalRequeuesUnfinished(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := &fakeJournal{}
	q1, err := memq.New(ctx, memq.Options{Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	r := queuetest.Req(job.PriorityHigh, 1)
	r.IdempotencyKey = "idem"
	a, err := q1.Enqueue(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	b, err := q1.Enqueue(ctx, queuetest.Req(job.PriorityLow, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(j.accepted) != 2 || j.accepted[0].ID != a.ID || j.accepted[1].ID != b.ID {
		t.Fatalf("journal got %+v, want both submissions", j.accepted)
	}
	// "Restart": b was leased (running) when the process died.
	running := j.accepted[1]
	running.Status, running.Attempts = job.StatusRunning, 1
	j.unfinished = []job.Submission{j.accepted[0], running}
	q2, err := memq.New(ctx, memq.Options{Journal: j})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{a.ID, b.ID} {
		l, err := q2.Lease(ctx, "w", 0)
		if err != nil || l == nil || l.Job.ID != want {
			t.Fatalf("Lease after restart = %+v, %v; want %s", l, err, want)
		}
	}
	// The idempotency key survives the restart.
	again, err := q2.Enqueue(ctx, r)
	if err != nil || again.ID != a.ID {
		t.Fatalf("re-submit after restart = %+v, %v; want %s", again, err, a.ID)
	}
	if len(j.accepted) != 2 {
		t.Fatalf("journal has %d entries, want 2 (the duplicate is not journaled)", len(j.accepted))
	}
}

func TestLiveContract(t *testing.T) {
	livetest.Run(t, func(t *testing.T) live.Hub {
		q, err := memq.New(context.Background(), memq.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return q
	})
}
