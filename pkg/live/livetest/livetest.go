// Package livetest is the contract suite every live.Hub passes: the Redis
// queue, the in-process queue and the queue role's HTTP client.
package livetest

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/live"
)

// Run runs the suite; newHub returns a fresh, isolated hub.
func Run(t *testing.T, newHub func(t *testing.T) live.Hub) {
	t.Run("output in order with cursors", func(t *testing.T) {
		t.Parallel()
		h := newHub(t)
		ctx := ctxT(t)
		id := job.NewID(time.Now())
		evs := []live.Event{
			{Seq: 0, Kind: live.KindStage, Step: live.StepRun},
			{Seq: 1, Kind: live.KindOutput, Step: live.StepRun, Stream: "stdout", Data: "a\n", Size: 2},
			{Seq: 2, Kind: live.KindOutput, Step: live.StepRun, Stream: "stderr", Data: "b\n", Offset: 2, Size: 2},
		}
		if err := h.Publish(ctx, id, evs[:2]...); err != nil {
			t.Fatal(err)
		}
		got, cur, err := h.Output(ctx, id, "", 0)
		if err != nil || len(got) != 2 || got[1].Data != "a\n" {
			t.Fatalf("Output = %+v, %v", got, err)
		}
		none, same, err := h.Output(ctx, id, cur, 0)
		if err != nil || len(none) != 0 || same != cur {
			t.Fatalf("Output after the end = %+v, %q (cursor %q), %v", none, same, cur, err)
		}
		// A waiting reader wakes on the next publish.
		go func() {
			time.Sleep(50 * time.Millisecond)
			_ = h.Publish(context.Background(), id, evs[2])
		}()
		got, _, err = h.Output(ctx, id, cur, 30*time.Second)
		if err != nil || len(got) != 1 || got[0] != evs[2] {
			t.Fatalf("waiting Output = %+v, %v", got, err)
		}
		// Another submission's stream is separate.
		other, _, err := h.Output(ctx, job.NewID(time.Now()), "", 0)
		if err != nil || len(other) != 0 {
			t.Fatalf("other stream = %+v, %v", other, err)
		}
	})
	t.Run("wait times out empty", func(t *testing.T) {
		t.Parallel()
		h := newHub(t)
		got, cur, err := h.Output(ctxT(t), job.NewID(time.Now()), "", 100*time.Millisecond)
		if err != nil || len(got) != 0 {
			t.Fatalf("Output = %+v, %q, %v", got, cur, err)
		}
	})
	t.Run("input in order", func(t *testing.T) {
		t.Parallel()
		h := newHub(t)
		ctx := ctxT(t)
		id := job.NewID(time.Now())
		ins := []live.Input{{Type: live.InputStdin, Data: "1\n"}, {Type: live.InputSignal, Signal: "SIGINT"}, {Type: live.InputStdinClose}}
		go func() {
			for _, in := range ins {
				_ = h.SendInput(context.Background(), id, in)
			}
		}()
		var got []live.Input
		cur := ""
		for len(got) < len(ins) {
			more, next, err := h.Input(ctx, id, cur, 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			got, cur = append(got, more...), next
		}
		for i := range ins {
			if got[i] != ins[i] {
				t.Errorf("input %d = %+v, want %+v", i, got[i], ins[i])
			}
		}
	})
	t.Run("bounded", func(t *testing.T) {
		t.Parallel()
		h := newHub(t)
		ctx := ctxT(t)
		id := job.NewID(time.Now())
		const n = 3000
		batch := make([]live.Event, 0, 100)
		for i := range n {
			batch = append(batch, live.Event{Seq: int64(i), Kind: live.KindOutput, Step: live.StepRun, Stream: "stdout",
				Data: strconv.Itoa(i) + "\n", Offset: int64(i) * 8, Size: 8})
			if len(batch) == cap(batch) {
				if err := h.Publish(ctx, id, batch...); err != nil {
					t.Fatal(err)
				}
				batch = batch[:0]
			}
		}
		var got []live.Event
		cur := ""
		for {
			more, next, err := h.Output(ctx, id, cur, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(more) == 0 {
				break
			}
			got, cur = append(got, more...), next
		}
		if len(got) == 0 || len(got) >= n {
			t.Fatalf("kept %d of %d events: want a bounded tail", len(got), n)
		}
		if last := got[len(got)-1]; last.Seq != n-1 {
			t.Errorf("last kept seq %d, want %d (the newest are kept)", last.Seq, n-1)
		}
		if got[0].Offset == 0 {
			t.Errorf("first kept event has offset 0: the trimmed bytes would not show as a gap")
		}
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
