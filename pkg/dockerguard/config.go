package dockerguard

import (
	"errors"

	"github.com/execbox/app/pkg/flagenv"
)

// Config is the guard process's settings (`app docker-guard`).
type Config struct {
	// Listen is the address the executor's DOCKER_HOST points at.
	Listen string
	// DockerHost is the engine the guard forwards to.
	DockerHost string
	// RuntimesFile is the language catalog (as the executor's): only its
	// images may run or be pulled. Empty: the embedded catalog.
	RuntimesFile string
	// Policy's Images are filled from the catalog.
	Policy Policy
}

// DefaultConfig holds the defaults: loopback only, the local socket, the
// default policy.
func DefaultConfig() Config {
	return Config{Listen: "127.0.0.1:2375", DockerHost: "unix:///var/run/docker.sock", Policy: DefaultPolicy()}
}

// RegisterFlags binds every setting to c, with DefaultConfig's defaults.
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.String(&c.Listen, "listen", "EXECBOX_GUARD_LISTEN", d.Listen, "address the guard listens on (the executor's DOCKER_HOST)")
	fs.String(&c.DockerHost, "docker-host", "EXECBOX_GUARD_DOCKER_HOST", d.DockerHost, "the Docker Engine the guard forwards to")
	fs.String(&c.Policy.Instance, "instance", "EXECBOX_EXECUTOR_INSTANCE", d.Policy.Instance, "the executor's instance name: the label its containers must carry (empty: any execbox executor label)")
	fs.String(&c.Policy.Runtime, "runtime", "EXECBOX_RUNTIME", d.Policy.Runtime, "the one OCI runtime sandboxes may use, e.g. runsc (default: Docker's)")
	fs.String(&c.RuntimesFile, "runtimes", "EXECBOX_RUNTIMES", d.RuntimesFile, "language catalog file (as the executor's): only its images may run or be pulled")
	fs.Shifted(&c.Policy.MaxMemoryBytes, 20, "max-memory-mb", "EXECBOX_GUARD_MAX_MEMORY_MB", d.Policy.MaxMemoryBytes, "largest memory limit of a sandbox container, MiB (the executor's --max-memory-mb plus its tmpfs and 64 MiB)")
	fs.Int64(&c.Policy.MaxPids, "max-pids", "EXECBOX_GUARD_MAX_PIDS", d.Policy.MaxPids, "largest pids limit of a sandbox container")
	fs.Float64(&c.Policy.MaxCPUs, "max-cpus", "EXECBOX_GUARD_MAX_CPUS", d.Policy.MaxCPUs, "largest CPU quota of a sandbox container (cores)")
}

// Validate checks the settings a user gives.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen must not be empty"))
	}
	if c.Policy.MaxMemoryBytes <= 0 || c.Policy.MaxPids <= 0 || c.Policy.MaxCPUs <= 0 {
		errs = append(errs, errors.New("--max-memory-mb, --max-pids and --max-cpus must be positive"))
	}
	return errors.Join(errs...)
}
