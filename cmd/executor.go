package cmd

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/roles/executor"
)

// executorFlags binds every executor setting; "app all" reuses it. Call
// finish after parsing.
type executorFlags struct {
	cpus string
}

func bindExecutor(fs *flagenv.Set, cfg *executor.Config) *executorFlags {
	f := &executorFlags{}
	fs.String(&cfg.DockerHost, "docker-host", "DOCKER_HOST", "", "Docker Engine address (default: the local socket)")
	fs.String(&cfg.RuntimesFile, "runtimes", "EXECBOX_RUNTIMES", "", "language catalog file replacing or extending the embedded one")
	fs.String(&cfg.Instance, "instance", "EXECBOX_EXECUTOR_INSTANCE", "", "executor instance name, the label on its sandboxes (default: host name)")
	fs.Int(&cfg.Slots, "slots", "EXECBOX_SLOTS", 2, "jobs run at once; beyond that the API answers 429 with Retry-After")
	fs.Int(&cfg.PoolSize, "pool-size", "EXECBOX_POOL_SIZE", 1, "warm pool: started idle sandboxes per language whose image is present (0: none)")
	fs.Strings(&cfg.PoolLanguages, "pool-languages", "EXECBOX_POOL_LANGUAGES", nil, "languages with a warm pool (default: all whose image is present)")
	fs.String(&cfg.Runtime, "runtime", "EXECBOX_RUNTIME", "", "OCI runtime of the sandboxes, e.g. runsc (default: Docker's)")
	fs.Bool(&cfg.Pull, "pull", "EXECBOX_PULL", false, "pull missing images at start (otherwise on first use)")
	fs.Duration(&cfg.PullTimeout, "pull-timeout", "EXECBOX_PULL_TIMEOUT", 5*time.Minute, "longest image pull")
	fs.Int64(&cfg.WorkDirMB, "workdir-mb", "EXECBOX_WORKDIR_MB", 64, "size of each sandbox's work directory /box (tmpfs), MiB")
	fs.Int64(&cfg.TmpMB, "tmp-mb", "EXECBOX_TMP_MB", 16, "size of each sandbox's /tmp (tmpfs), MiB")
	fs.String(&f.cpus, "cpus", "EXECBOX_CPUS", "1", "CPU quota of each sandbox (cores, may be fractional)")
	fs.Int64(&cfg.MaxMemoryMB, "max-memory-mb", "EXECBOX_MAX_MEMORY_MB", 2048, "largest memory limit a job may have, MiB")
	fs.Duration(&cfg.MaxWall, "max-wall", "EXECBOX_MAX_WALL", time.Minute, "largest wall time limit a job may have")
	fs.String(&cfg.AgentBinary, "agent-binary", "EXECBOX_AGENT_BINARY", "", "static execbox binary mounted as the sandbox agent (default: this executable)")
	return f
}

func (f *executorFlags) finish(cfg *executor.Config) error {
	cpus, err := strconv.ParseFloat(f.cpus, 64)
	if err != nil || cpus <= 0 {
		return fmt.Errorf("--cpus %q: want a positive number", f.cpus)
	}
	cfg.CPUs = cpus
	return nil
}

func newExecutorCmd(g *globals) *cobra.Command {
	var (
		cfg executor.Config
		l   listen
	)
	c := &cobra.Command{
		Use:   "executor",
		Short: "Run the executor role: jobs in hardened Docker sandboxes",
		Long: `Run the executor role: each job runs in a fresh, hardened Docker container
(no network, read-only root, capped tmpfs work directory, all capabilities
dropped but what the supervisor needs, pids/memory/CPU limits) supervised by
this binary's hidden agent mode, mounted read-only from a Docker volume.
The internal API lives under /executor/v1 (run, cancel/{id}, capacity, languages).`,
		Args: cobra.NoArgs,
	}
	fs := flagenv.New(c.Flags())
	l.bind(fs, 8088)
	ef := bindExecutor(fs, &cfg)
	fs.Secret(&cfg.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", "", "bearer token guarding /executor/v1")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if err := ef.finish(&cfg); err != nil {
			return err
		}
		cfg.Addr = l.addr()
		log, err := g.logger("executor")
		if err != nil {
			return err
		}
		role, err := executor.New(cfg, log)
		if err != nil {
			return err
		}
		return runRole(log, role)
	}
	return c
}
