package cmd

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/roles/queue"
)

func newQueueCmd(g *globals) *cobra.Command {
	var (
		cfg = queue.DefaultConfig()
		l   listen
	)
	c := &cobra.Command{
		Use:   "queue",
		Short: "Run the queue role: the job queue in Redis, served over an internal HTTP API",
		Long: `Run the queue role: the job queue in Redis (streams per priority, leases with
heartbeats, dead letters, a results stream for storage), served to gateways and
workers over the internal API under /queue/v1.

Durability (Redis with appendonly yes): a job the queue accepted survives kill -9
of any execbox process. With appendfsync always it also survives kill -9 of
Redis and a host crash. With appendfsync everysec it survives a Redis restart
or kill -9 (except while the disk stalls, when Redis may delay the write by up
to 2 s), and a host crash may lose the last 1-2 s of accepted jobs and state
changes (undone leases and completions mean those jobs run again). Configure
Redis with maxmemory-policy noeviction.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, roleHost, queue.DefaultPort)
	cfg.RegisterFlags(fs)
	cfg.RegisterProcessFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return g.serve(cmd, fs, "queue", func(log *slog.Logger) (lifecycle.Service, error) {
			if cfg.RedisURL == "" {
				return nil, errors.New("queue: REDIS_URL (--redis-url) is required; the in-process queue is for app all")
			}
			cfg.Addr, cfg.HTTP = l.addr(), l.http
			return queue.New(cfg, log, queue.Deps{})
		})
	}
	return c
}
