package cmd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/dockerguard"
	"github.com/execbox/app/pkg/flagenv"
)

// newDockerGuardCmd runs the Docker Engine API guard between the executor
// and the Docker socket (pkg/dockerguard).
func newDockerGuardCmd(g *globals) *cobra.Command {
	cfg := dockerguard.DefaultConfig()
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
	fs := flagenv.New(c.Flags())
	cfg.RegisterFlags(fs)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		if g.printed(cmd, fs) {
			return nil
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		cat, err := catalog.LoadOrDefault(cfg.RuntimesFile)
		if err != nil {
			return err
		}
		for _, l := range cat.All() {
			cfg.Policy.Images = append(cfg.Policy.Images, l.Image)
		}
		log, err := g.logger("docker-guard")
		if err != nil {
			return err
		}
		guard, err := dockerguard.New(cfg.Policy, cfg.DockerHost, log)
		if err != nil {
			return err
		}
		defer guard.Close()
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fmt.Errorf("docker-guard: %w", err)
		}
		log.Info("docker guard listening", "addr", ln.Addr().String(), "docker_host", cfg.DockerHost,
			"instance", cfg.Policy.Instance, "runtime", cfg.Policy.Runtime, "images", len(cfg.Policy.Images))
		if cfg.Policy.Instance == "" {
			log.Warn("docker guard: no --instance: containers of any execbox executor label pass")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return dockerguard.Serve(ctx, ln, guard, log)
	}
	return c
}
