package redisq

import "github.com/redis/go-redis/v9"

// Buffer sizes for execbox's Redis clients. go-redis gives every connection
// 32 KiB read and write buffers and keeps a separate pipeline pool of 10
// connections with 128 KiB buffers: several MB for a pool of 32, more than a
// whole role's memory budget (README.md, Benchmarks: Budgets). execbox's commands and replies are
// small (a job's payload is written once and read once), so small buffers
// cost a few more read and write calls on a rare large payload and nothing
// else: `app bench queue` (which uses these settings) showed no difference
// beyond its run-to-run noise. The pipeline pool keeps go-redis's size.
const (
	connBufferSize     = 8 << 10
	pipelineBufferSize = 16 << 10
)

// Lean sets opt's connection and pipeline buffers to execbox's sizes,
// leaving any size the caller already set, and returns opt.
func Lean(opt *redis.Options) *redis.Options {
	set := func(v *int, n int) {
		if *v == 0 {
			*v = n
		}
	}
	set(&opt.ReadBufferSize, connBufferSize)
	set(&opt.WriteBufferSize, connBufferSize)
	set(&opt.PipelineReadBufferSize, pipelineBufferSize)
	set(&opt.PipelineWriteBufferSize, pipelineBufferSize)
	return opt
}
