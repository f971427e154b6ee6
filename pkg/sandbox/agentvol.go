package sandbox

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
)

// agentVolume is the named volume holding the agent binary (this
// executable), mounted read-only into every sandbox. Copying into a
// read-only root or a tmpfs does not work, so the volume is filled through a
// created-but-never-started helper container. Its name carries the binary's
// content hash: a new build gets a new volume.
type agentVolume struct {
	docker   client.APIClient
	log      *slog.Logger
	binary   string
	instance string
	// helperHost is the helper container's host configuration: the
	// sandbox hardening with the volume mounted read-write.
	helperHost func(vol string) *container.HostConfig

	mu    sync.Mutex
	vol   string
	ready bool
}

func newAgentVolume(dc client.APIClient, log *slog.Logger, binary, instance string, helperHost func(vol string) *container.HostConfig) *agentVolume {
	return &agentVolume{docker: dc, log: log, binary: binary, instance: instance, helperHost: helperHost}
}

func (a *agentVolume) name() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.vol
}

// ensure creates and fills the volume once, using helperImage (present
// locally) for the helper container.
func (a *agentVolume) ensure(ctx context.Context, helperImage string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ready {
		return nil
	}
	path := a.binary
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable: %w", err)
		}
		path = exe
	}
	sum, size, err := hashFile(path)
	if err != nil {
		return err
	}
	if f, err := elf.Open(path); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				a.log.Warn("the agent binary is dynamically linked; build it with CGO_ENABLED=0 to run in any image", "path", path)
			}
		}
		_ = f.Close()
	}
	name := "execbox-agent-" + sum[:16]
	if _, err := a.docker.VolumeInspect(ctx, name); err != nil {
		if !cerrdefs.IsNotFound(err) {
			return fmt.Errorf("inspect volume %s: %w", name, err)
		}
		if _, err := a.docker.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: map[string]string{LabelAgent: "1"}}); err != nil {
			return fmt.Errorf("create volume %s: %w", name, err)
		}
	}
	helper, err := a.docker.ContainerCreate(ctx, &container.Config{
		Image: helperImage, Entrypoint: []string{AgentDir + "/app"}, Cmd: []string{"version"},
		Labels: map[string]string{LabelExecutor: a.instance}, NetworkDisabled: true,
	}, a.helperHost(name), nil, nil, "")
	if err != nil {
		return fmt.Errorf("create helper container (%s): %w", helperImage, err)
	}
	defer func() {
		_ = a.docker.ContainerRemove(context.WithoutCancel(ctx), helper.ID, container.RemoveOptions{Force: true})
	}()
	if st, err := a.docker.ContainerStatPath(ctx, helper.ID, AgentDir+"/app"); err == nil && st.Size == size {
		a.vol, a.ready = name, true
		a.log.Info("agent volume ready", "volume", name)
		a.cleanupOld(ctx, name)
		return nil
	}
	if err := a.copy(ctx, helper.ID, path, size); err != nil {
		return err
	}
	a.vol, a.ready = name, true
	a.log.Info("agent volume filled", "volume", name, "bytes", size)
	a.cleanupOld(ctx, name)
	return nil
}

// invalidate makes the next ensure check the volume again (a sandbox
// failed to start: the volume may have been removed under us).
func (a *agentVolume) invalidate() {
	a.mu.Lock()
	a.ready = false
	a.mu.Unlock()
}

// copy streams a tar holding the binary as "app" into the volume.
func (a *agentVolume) copy(ctx context.Context, helper, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open agent binary: %w", err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: size, Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	if err := a.docker.CopyToContainer(ctx, helper, AgentDir, pr, container.CopyToContainerOptions{}); err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("copy agent into volume: %w", err)
	}
	return nil
}

// oldAgentVolumeAge is how old another build's agent volume must be before
// cleanupOld removes it. Docker refuses to remove a volume a container uses,
// but between two sandboxes another executor's volume is unused for a
// moment: an executor of another build started recently (a test run beside
// this one, a rolling upgrade) must not lose its volume in that moment.
const oldAgentVolumeAge = time.Hour

// cleanupOld removes agent volumes of other builds that no container uses
// and that are older than oldAgentVolumeAge.
func (a *agentVolume) cleanupOld(ctx context.Context, keep string) {
	list, err := a.docker.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", LabelAgent))})
	if err != nil {
		return
	}
	for _, v := range list.Volumes {
		created, err := time.Parse(time.RFC3339, v.CreatedAt)
		if err != nil || time.Since(created) < oldAgentVolumeAge {
			continue
		}
		if v.Name != keep {
			if err := a.docker.VolumeRemove(ctx, v.Name, false); err == nil {
				a.log.Info("removed old agent volume", "volume", v.Name)
			}
		}
	}
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("open agent binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash agent binary: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
