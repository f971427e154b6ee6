package cmd

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/bench"
	"github.com/execbox/app/pkg/flagenv"
)

func newBenchStorageCmd(g *globals) *cobra.Command {
	var opt bench.StorageOptions
	c := &cobra.Command{
		Use:   "storage",
		Short: "Benchmark results/s written to PostgreSQL by one storage consumer",
		Long: `Benchmark results/s written to PostgreSQL by one storage consumer (the real
role, batched, acknowledging after commit) against baselines measured in the
same run on the same rows: one INSERT per result, and pgx CopyFrom. Each mode
runs on a fresh scratch database created on the server and dropped afterwards.
With --redis-url the consumer is also measured reading the queue's real
results stream (filled through the Redis queue first, not timed).`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	fs.Secret(&opt.DatabaseURL, "database-url", "DATABASE_URL", "", "PostgreSQL server to create scratch databases on (required)")
	fs.Int(&opt.Results, "results", "EXECBOX_BENCH_RESULTS", 20000, "results the consumer writes")
	fs.Int(&opt.SingleRows, "single-rows", "EXECBOX_BENCH_SINGLE_ROWS", 3000, "results the single-row baseline writes")
	fs.Int(&opt.BatchSize, "batch-size", "EXECBOX_STORAGE_BATCH_SIZE", 500, "consumer batch size")
	fs.String(&opt.RedisURL, "redis-url", "REDIS_URL", "", "also measure the consumer reading the real Redis results stream (optional)")
	fs.Int(&opt.RedisResults, "redis-results", "EXECBOX_BENCH_REDIS_RESULTS", 5000, "results put on the Redis stream for that mode")
	fs.Int(&opt.Writers, "writers", "EXECBOX_STORAGE_WRITERS", 2, "consumer's concurrent batch writers")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if opt.DatabaseURL == "" {
			return errors.New("bench storage: DATABASE_URL (--database-url) is required")
		}
		if opt.Results <= 0 || opt.Results > 1_000_000 || opt.SingleRows <= 0 || opt.SingleRows > opt.Results {
			return errors.New("bench storage: --results must be 1..1000000 and --single-rows 1..results")
		}
		log, err := g.logger("bench")
		if err != nil {
			return err
		}
		opt.Log = log
		ctx, stop := signalContext()
		defer stop()
		_, err = bench.Storage(ctx, opt, cmd.OutOrStdout())
		return err
	}
	return c
}
