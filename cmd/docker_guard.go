package cmd

import (
	"fmt"
	"net"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/dockerguard"
	"github.com/execbox/app/pkg/flagenv"
)

// newDockerGuardCmd runs the Docker Engine API guard between the executor
// and the Docker socket (pkg/dockerguard).
func newDockerGuardCmd(g *globals) *cobra.Command {
	var (
		listen, dockerHost, runtimes, cpus string
		pol                                dockerguard.Policy
		maxMemoryMB                        int64
	)
	c := &cobra.Command{
		Use:   "docker-guard",
		Short: "Run the Docker API guard: only sandbox-shaped requests reach the Docker socket",
		Long: `Run the Docker Engine API guard that stands between the executor and the
Docker socket. It forwards only the endpoints and methods the executor uses,
lets a container create through only if it matches the sandbox policy (no
privileges, network none, read-only root, capabilities dropped, execbox's
seccomp profile, the agent volume read-only, the executor's label, the
configured runtime, limits within the maximums below), and lets inspect,
attach, wait, start, stop, kill, remove and archive touch only containers that
carry the executor's label. Everything else gets 403 with the reason.
Point the executor's DOCKER_HOST at it (tcp://HOST:PORT).`,
		Args: cobra.NoArgs,
	}
	def := dockerguard.DefaultPolicy()
	fs := flagenv.New(c.Flags())
	fs.String(&listen, "listen", "EXECBOX_GUARD_LISTEN", "127.0.0.1:2375", "address the guard listens on (the executor's DOCKER_HOST)")
	fs.String(&dockerHost, "docker-host", "EXECBOX_GUARD_DOCKER_HOST", "unix:///var/run/docker.sock", "the Docker Engine the guard forwards to")
	fs.String(&pol.Instance, "instance", "EXECBOX_EXECUTOR_INSTANCE", "", "the executor's instance name: the label its containers must carry (empty: any execbox executor label)")
	fs.String(&pol.Runtime, "runtime", "EXECBOX_RUNTIME", "", "the one OCI runtime sandboxes may use, e.g. runsc (default: Docker's)")
	fs.String(&runtimes, "runtimes", "EXECBOX_RUNTIMES", "", "language catalog file (as the executor's): only its images may run or be pulled")
	fs.Int64(&maxMemoryMB, "max-memory-mb", "EXECBOX_GUARD_MAX_MEMORY_MB", def.MaxMemoryBytes>>20, "largest memory limit of a sandbox container, MiB (the executor's --max-memory-mb plus its tmpfs and 64 MiB)")
	fs.Int64(&pol.MaxPids, "max-pids", "EXECBOX_GUARD_MAX_PIDS", def.MaxPids, "largest pids limit of a sandbox container")
	fs.String(&cpus, "max-cpus", "EXECBOX_GUARD_MAX_CPUS", strconv.FormatFloat(def.MaxCPUs, 'g', -1, 64), "largest CPU quota of a sandbox container (cores)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		n, err := strconv.ParseFloat(cpus, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("--max-cpus %q: want a positive number", cpus)
		}
		if maxMemoryMB <= 0 || pol.MaxPids <= 0 {
			return fmt.Errorf("--max-memory-mb and --max-pids must be positive")
		}
		pol.MaxCPUs, pol.MaxMemoryBytes = n, maxMemoryMB<<20
		cat, err := catalog.LoadOrDefault(runtimes)
		if err != nil {
			return err
		}
		for _, l := range cat.All() {
			pol.Images = append(pol.Images, l.Image)
		}
		log, err := g.logger("docker-guard")
		if err != nil {
			return err
		}
		guard, err := dockerguard.New(pol, dockerHost, log)
		if err != nil {
			return err
		}
		defer guard.Close()
		ln, err := net.Listen("tcp", listen)
		if err != nil {
			return fmt.Errorf("docker-guard: %w", err)
		}
		log.Info("docker guard listening", "addr", ln.Addr().String(), "docker_host", dockerHost,
			"instance", pol.Instance, "runtime", pol.Runtime, "images", len(pol.Images))
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return dockerguard.Serve(ctx, ln, guard, log)
	}
	return c
}
