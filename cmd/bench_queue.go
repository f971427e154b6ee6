package cmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/bench"
	"github.com/execbox/app/pkg/flagenv"
)

func newBenchQueueCmd(g *globals) *cobra.Command {
	var opt bench.QueueOptions
	c := &cobra.Command{
		Use:   "queue",
		Short: "Benchmark queue throughput (enqueue, lease, complete) in jobs/s against Redis round trips",
		Long: `Benchmark the Redis queue and the in-process queue: enqueue into an empty
queue, drain it with in-process workers that complete each job at once, then
both together (end to end), each phase --jobs jobs, reported in jobs/s beside a
baseline measured in the same run: the rate of Redis PING round trips at the
same concurrency. Keys go under a fresh prefix that is deleted afterwards.
Goal: at least 5,000 jobs/s end to end on Redis.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	fs.String(&opt.RedisURL, "redis-url", "REDIS_URL", "", "Redis URL (required)")
	fs.Int(&opt.Jobs, "jobs", "EXECBOX_BENCH_JOBS", 20000, "jobs per phase")
	fs.Int(&opt.Concurrency, "concurrency", "EXECBOX_BENCH_CONCURRENCY", 64, "producers, and workers")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if opt.RedisURL == "" {
			return errors.New("bench queue: REDIS_URL (--redis-url) is required")
		}
		if opt.Jobs <= 0 || opt.Jobs > 1_000_000 || opt.Concurrency <= 0 || opt.Concurrency > 1024 {
			return errors.New("bench queue: --jobs must be 1..1000000 and --concurrency 1..1024")
		}
		log, err := g.logger("bench")
		if err != nil {
			return err
		}
		opt.Log = log
		ctx, stop := signalContext()
		defer stop()
		_, err = bench.Queue(ctx, opt, cmd.OutOrStdout())
		return err
	}
	return c
}
