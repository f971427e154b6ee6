package cmd

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/worker"
)

func newWorkerCmd(g *globals) *cobra.Command {
	var (
		cfg worker.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "worker",
		Short: "Run the worker role: lease jobs, run them on executors, report results",
		Long: `Run the worker role: --concurrency lease loops long-poll the queue, run each
job on the executor with the most free capacity (backing off on 429), heartbeat
the lease, and report the result. On SIGTERM the worker stops leasing, lets
in-flight jobs finish within --grace, and hands the rest back to the queue.`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8087)
	fs.String(&cfg.QueueURL, "queue-url", "EXECBOX_QUEUE_URL", "http://127.0.0.1:8086", "queue role URL")
	fs.Strings(&cfg.ExecutorURLs, "executor-urls", "EXECBOX_EXECUTOR_URLS", []string{"http://127.0.0.1:8088"}, "executor role URLs, comma-separated")
	fs.Secret(&cfg.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", "", "bearer token for the queue and executor APIs")
	fs.String(&cfg.Name, "name", "EXECBOX_WORKER_NAME", "", "worker name in the queue (default host-pid)")
	fs.Int(&cfg.Concurrency, "concurrency", "EXECBOX_CONCURRENCY", 2, "jobs run at once (lease loops)")
	fs.Duration(&cfg.LeaseWait, "lease-wait", "EXECBOX_LEASE_WAIT", 20*time.Second, "long-poll duration of one lease request")
	fs.Duration(&cfg.Heartbeat, "heartbeat", "EXECBOX_HEARTBEAT", time.Second, "longest interval between lease extensions (also bounds how fast a cancel reaches a running job)")
	fs.Duration(&cfg.Grace, "grace", "EXECBOX_GRACE", 30*time.Second, "on shutdown, how long in-flight jobs may finish before they are handed back")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		cfg.Addr = l.addr()
		log, err := g.logger("worker")
		if err != nil {
			return err
		}
		role, err := worker.New(cfg, log, worker.Deps{})
		if err != nil {
			return err
		}
		return runRole(log, role)
	}
	return c
}
