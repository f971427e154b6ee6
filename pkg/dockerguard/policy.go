package dockerguard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/execbox/app/pkg/agent"
	"github.com/execbox/app/pkg/sandbox"
)

// AgentVolumePrefix names the volumes that carry the agent binary.
const AgentVolumePrefix = "execbox-agent-"

// Policy is what a container create must match. Zero values take the
// defaults noted.
type Policy struct {
	// Instance is the executor's instance name: every container must carry
	// the label execbox.executor=Instance, and only such containers can be
	// inspected, attached, started, stopped, killed, removed. Empty: any
	// value of that label (one executor per guard is the safer set-up).
	Instance string
	// Runtime is the one OCI runtime sandboxes may use ("" = Docker's
	// default).
	Runtime string
	// Images the sandboxes may run and the guard may pull (the catalog's).
	// Empty: any image.
	Images []string
	// MaxMemoryBytes bounds a sandbox's memory cgroup.
	MaxMemoryBytes int64
	// MaxPids bounds a sandbox's pids limit.
	MaxPids int64
	// MaxCPUs bounds a sandbox's CPU quota in cores.
	MaxCPUs float64
}

// DefaultPolicy holds the default maximums: room for the executor's largest
// job (2 GiB plus its tmpfs and headroom; 256 processes, scaled for
// gVisor's host threads) on a few cores.
func DefaultPolicy() Policy {
	return Policy{MaxMemoryBytes: 2560 << 20, MaxPids: 8192, MaxCPUs: 4}
}

func (p *Policy) setDefaults() error {
	def := DefaultPolicy()
	if p.MaxMemoryBytes == 0 {
		p.MaxMemoryBytes = def.MaxMemoryBytes
	}
	if p.MaxPids == 0 {
		p.MaxPids = def.MaxPids
	}
	if p.MaxCPUs == 0 {
		p.MaxCPUs = def.MaxCPUs
	}
	if p.MaxMemoryBytes < 0 || p.MaxPids < 0 || p.MaxCPUs < 0 {
		return errors.New("docker-guard: policy maximums must not be negative")
	}
	return nil
}

func (p *Policy) ownerLabel() string { return sandbox.LabelExecutor + "=" + p.Instance }

func (p *Policy) ownerOK(labels map[string]string) bool {
	v, ok := labels[sandbox.LabelExecutor]
	if p.Instance == "" {
		return ok && v != ""
	}
	return ok && v == p.Instance
}

func (p *Policy) imageOK(ref string) bool {
	return len(p.Images) == 0 || slices.Contains(p.Images, ref)
}

func normCap(c string) string { return strings.TrimPrefix(strings.ToUpper(c), "CAP_") }

// CheckCreate checks a container create against the sandbox policy. Two
// shapes pass: a sandbox (the agent volume read-only, command "agent") and
// the helper that fills the agent volume (the volume read-write, command
// "version", never started: containerStart refuses it).
func (p *Policy) CheckCreate(req *container.CreateRequest) error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c, h := req.Config, req.HostConfig
	if c == nil || h == nil {
		return errors.New("config and host config are required")
	}
	// Config.
	if !p.imageOK(c.Image) {
		bad("image %q is not a sandbox image", c.Image)
	}
	if !p.ownerOK(c.Labels) {
		bad("label %s must be %q", sandbox.LabelExecutor, p.Instance)
	}
	if !slices.Equal(c.Entrypoint, []string{sandbox.AgentDir + "/app"}) {
		bad("entrypoint %q: must be the agent %s/app", c.Entrypoint, sandbox.AgentDir)
	}
	helper := slices.Equal(c.Cmd, []string{"version"})
	if !helper && !slices.Equal(c.Cmd, []string{"agent"}) {
		bad("cmd %q: must be [agent] (or [version] for the agent volume's helper)", c.Cmd)
	}
	if !c.NetworkDisabled {
		bad("networking must be disabled")
	}
	if len(c.ExposedPorts) > 0 {
		bad("exposed ports are not allowed")
	}
	if len(c.Volumes) > 0 {
		bad("anonymous volumes are not allowed")
	}
	if c.Healthcheck != nil || len(c.OnBuild) > 0 {
		bad("healthcheck and onbuild are not allowed")
	}
	if req.NetworkingConfig != nil && len(req.NetworkingConfig.EndpointsConfig) > 0 {
		bad("network endpoints are not allowed")
	}
	// Host config: isolation.
	if h.Privileged {
		bad("privileged containers are not allowed")
	}
	if h.NetworkMode != "none" {
		bad("network mode %q: must be none", h.NetworkMode)
	}
	if !h.ReadonlyRootfs {
		bad("the root file system must be read-only")
	}
	if len(h.Binds) > 0 {
		bad("binds are not allowed: %q", h.Binds)
	}
	if len(h.VolumesFrom) > 0 || h.VolumeDriver != "" {
		bad("volumes-from and volume drivers are not allowed")
	}
	if len(h.Links) > 0 || len(h.PortBindings) > 0 || h.PublishAllPorts || len(h.ExtraHosts) > 0 ||
		len(h.DNS) > 0 || len(h.DNSOptions) > 0 || len(h.DNSSearch) > 0 {
		bad("links, ports, extra hosts and DNS settings are not allowed")
	}
	p.checkMounts(h.Mounts, helper, bad)
	for dst := range h.Tmpfs {
		if dst != agent.WorkDir && dst != "/tmp" {
			bad("tmpfs %s: only %s and /tmp", dst, agent.WorkDir)
		}
	}
	switch h.IpcMode {
	case "none", "private":
	default:
		bad("ipc mode %q: must be none or private", h.IpcMode)
	}
	if h.PidMode != "" || h.UTSMode != "" || h.UsernsMode != "" || (h.CgroupnsMode != "" && h.CgroupnsMode != "private") {
		bad("host or shared namespaces are not allowed (pid %q, uts %q, userns %q, cgroupns %q)", h.PidMode, h.UTSMode, h.UsernsMode, h.CgroupnsMode)
	}
	if h.Cgroup != "" || h.CgroupParent != "" {
		bad("cgroup settings are not allowed")
	}
	if !slices.ContainsFunc(h.CapDrop, func(c string) bool { return strings.EqualFold(c, "ALL") }) {
		bad("capabilities: must drop ALL")
	}
	for _, c := range h.CapAdd {
		if !slices.Contains(sandbox.SupervisorCaps(), normCap(c)) {
			bad("capability %s is not allowed (only %s)", c, strings.Join(sandbox.SupervisorCaps(), ", "))
		}
	}
	p.checkSecurityOpt(h.SecurityOpt, bad)
	if len(h.Sysctls) > 0 {
		bad("sysctls are not allowed")
	}
	if h.MaskedPaths != nil || h.ReadonlyPaths != nil {
		bad("masked and read-only paths must stay Docker's defaults")
	}
	if h.Runtime != p.Runtime {
		bad("runtime %q: must be %q", h.Runtime, p.Runtime)
	}
	if h.Isolation != "" {
		bad("isolation %q is not allowed", h.Isolation)
	}
	if h.Init != nil && *h.Init {
		bad("init is not allowed (the agent is PID 1)")
	}
	if h.LogConfig.Type != "none" {
		bad("log driver %q: must be none", h.LogConfig.Type)
	}
	if h.RestartPolicy.Name != "" && h.RestartPolicy.Name != container.RestartPolicyDisabled {
		bad("restart policy %q is not allowed", h.RestartPolicy.Name)
	}
	if h.OomScoreAdj < 0 {
		bad("negative OOM score adjustment")
	}
	p.checkResources(&h.Resources, bad)
	return errors.Join(errs...)
}

func (p *Policy) checkMounts(ms []mount.Mount, helper bool, bad func(string, ...any)) {
	if len(ms) != 1 {
		bad("mounts: exactly one, the agent volume at %s (got %d)", sandbox.AgentDir, len(ms))
		return
	}
	m := ms[0]
	if m.Type != mount.TypeVolume || !strings.HasPrefix(m.Source, AgentVolumePrefix) || m.Target != sandbox.AgentDir {
		bad("mount %s:%s (%s): only the agent volume %s* at %s", m.Source, m.Target, m.Type, AgentVolumePrefix, sandbox.AgentDir)
	}
	if m.BindOptions != nil || m.TmpfsOptions != nil || m.ImageOptions != nil || m.ClusterOptions != nil {
		bad("mount options other than volume options are not allowed")
	}
	if m.VolumeOptions != nil && (m.VolumeOptions.DriverConfig != nil || m.VolumeOptions.Subpath != "") {
		bad("volume driver config and subpaths are not allowed")
	}
	if !m.ReadOnly && !helper {
		bad("the agent volume must be mounted read-only")
	}
}

func (p *Policy) checkSecurityOpt(opts []string, bad func(string, ...any)) {
	nnp, seccomp := false, false
	for _, o := range opts {
		switch {
		case o == "no-new-privileges" || o == "no-new-privileges:true" || o == "no-new-privileges=true":
			nnp = true
		case o == "seccomp="+sandbox.SeccompProfile(p.Runtime) || o == "seccomp:"+sandbox.SeccompProfile(p.Runtime):
			seccomp = true
		default:
			short := o
			if len(short) > 40 {
				short = short[:40] + "..."
			}
			bad("security option %q is not allowed", short)
		}
	}
	if !nnp {
		bad("no-new-privileges is required")
	}
	if !seccomp {
		bad("execbox's seccomp profile is required")
	}
}

func (p *Policy) checkResources(r *container.Resources, bad func(string, ...any)) {
	if r.Memory <= 0 || r.Memory > p.MaxMemoryBytes {
		bad("memory %d: must be set and at most %d bytes", r.Memory, p.MaxMemoryBytes)
	}
	if r.MemorySwap != r.Memory {
		bad("memory swap %d: must equal memory %d (no swap)", r.MemorySwap, r.Memory)
	}
	maxNano := int64(p.MaxCPUs * 1e9)
	if r.NanoCPUs <= 0 || r.NanoCPUs > maxNano {
		bad("CPUs %d (nano): must be set and at most %d", r.NanoCPUs, maxNano)
	}
	if r.CPUQuota != 0 || r.CPUPeriod != 0 || r.CPURealtimePeriod != 0 || r.CPURealtimeRuntime != 0 || r.CPUShares != 0 || r.CpusetCpus != "" || r.CpusetMems != "" {
		bad("CPU settings other than the CPU count are not allowed")
	}
	if r.PidsLimit == nil || *r.PidsLimit <= 0 || *r.PidsLimit > p.MaxPids {
		bad("pids limit: must be set and at most %d", p.MaxPids)
	}
	if len(r.Devices) > 0 || len(r.DeviceRequests) > 0 || len(r.DeviceCgroupRules) > 0 {
		bad("devices are not allowed")
	}
	if len(r.BlkioWeightDevice) > 0 || len(r.BlkioDeviceReadBps) > 0 || len(r.BlkioDeviceWriteBps) > 0 ||
		len(r.BlkioDeviceReadIOps) > 0 || len(r.BlkioDeviceWriteIOps) > 0 {
		bad("block device settings are not allowed")
	}
	if r.OomKillDisable != nil && *r.OomKillDisable {
		bad("disabling the OOM killer is not allowed")
	}
	if r.MemoryReservation < 0 || r.KernelMemory != 0 {
		bad("kernel memory and negative reservations are not allowed")
	}
	for _, u := range r.Ulimits {
		if u == nil {
			continue
		}
		if u.Name == "core" && (u.Soft != 0 || u.Hard != 0) {
			bad("core dumps are not allowed")
		}
	}
}

// CheckVolume checks a volume create: only agent volumes, local driver, no
// driver options (a local volume with type=none,o=bind is a bind mount of
// any host path).
func (p *Policy) CheckVolume(name, driver string, opts, labels map[string]string) error {
	var errs []error
	if !strings.HasPrefix(name, AgentVolumePrefix) {
		errs = append(errs, fmt.Errorf("name %q: only agent volumes (%s*)", name, AgentVolumePrefix))
	}
	if driver != "" && driver != "local" {
		errs = append(errs, fmt.Errorf("driver %q: only local", driver))
	}
	if len(opts) > 0 {
		errs = append(errs, errors.New("driver options are not allowed (a bind volume is a host mount)"))
	}
	if labels[sandbox.LabelAgent] != "1" {
		errs = append(errs, fmt.Errorf("label %s=1 is required", sandbox.LabelAgent))
	}
	return errors.Join(errs...)
}
