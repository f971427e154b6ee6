package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/runtimes"
)

// images knows which images are present and pulls missing ones, one pull
// per image at a time.
type images struct {
	docker  client.APIClient
	log     *slog.Logger
	metrics *metrics
	timeout time.Duration

	mu      sync.Mutex
	have    map[string]bool
	labels  map[string]map[string]string // of present images
	pulling map[string]*pull
}

type pull struct {
	done chan struct{}
	err  error
}

func newImages(dc client.APIClient, log *slog.Logger, m *metrics, timeout time.Duration) *images {
	return &images{docker: dc, log: log, metrics: m, timeout: timeout, have: map[string]bool{}, labels: map[string]map[string]string{}, pulling: map[string]*pull{}}
}

// present reports whether ref is in the local image store.
func (im *images) present(ctx context.Context, ref string) bool {
	im.mu.Lock()
	ok := im.have[ref]
	im.mu.Unlock()
	if ok {
		return true
	}
	ii, err := im.docker.ImageInspect(ctx, ref)
	if err != nil {
		return false
	}
	im.mu.Lock()
	im.have[ref] = true
	if ii.Config != nil {
		im.labels[ref] = ii.Config.Labels
	}
	im.mu.Unlock()
	return true
}

// version returns the version of language id that image ref recorded when
// it was built (pkg/runtimes labels), if it is present and says.
func (im *images) version(ctx context.Context, ref, id string) (string, bool) {
	if !im.present(ctx, ref) {
		return "", false
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	v, ok := im.labels[ref][runtimes.LabelVersionPrefix+id]
	return v, ok && v != ""
}

// anyPresent returns the image of some catalog language that is present.
func (im *images) anyPresent(ctx context.Context, c *catalog.Catalog) string {
	for _, l := range c.All() {
		if im.present(ctx, l.Image) {
			return l.Image
		}
	}
	return ""
}

// ensure makes ref present, pulling it (bounded by the pull timeout) if
// needed. Concurrent callers share one pull.
func (im *images) ensure(ctx context.Context, ref string) error {
	if im.present(ctx, ref) {
		return nil
	}
	im.mu.Lock()
	p := im.pulling[ref]
	if p == nil {
		p = &pull{done: make(chan struct{})}
		im.pulling[ref] = p
		go func() {
			p.err = im.pull(ref)
			im.mu.Lock()
			delete(im.pulling, ref)
			if p.err == nil {
				im.have[ref] = true
			}
			im.mu.Unlock()
			close(p.done)
		}()
	}
	im.mu.Unlock()
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pull pulls ref, logging progress; it outlives the job that asked for it
// (others may wait for the same image) but not the pull timeout.
func (im *images) pull(ref string) error {
	ctx, cancel := context.WithTimeout(context.Background(), im.timeout)
	defer cancel()
	start := time.Now()
	im.log.Info("pulling image", "image", ref)
	err := im.doPull(ctx, ref)
	if err != nil {
		im.metrics.pulls.WithLabelValues("error").Inc()
		if r, ok := runtimes.ByImage(ref); ok {
			// A runtime image of ours: it is built, not pulled.
			build := "app images build " + r.Name
			im.log.Error("runtime image missing: build it", "image", ref, "command", build, "pull_err", err)
			return fmt.Errorf("runtime image %s is not present on this executor's Docker Engine (and could not be pulled: %v); build it with `%s`", ref, err, build)
		}
		im.log.Error("image pull failed", "image", ref, "err", err)
		return fmt.Errorf("image %s is not present and could not be pulled: %w", ref, err)
	}
	im.metrics.pulls.WithLabelValues("ok").Inc()
	im.log.Info("image pulled", "image", ref, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

func (im *images) doPull(ctx context.Context, ref string) error {
	rc, err := im.docker.ImagePull(ctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	last := time.Time{}
	for {
		var m struct {
			Status   string `json:"status"`
			ID       string `json:"id"`
			Progress string `json:"progress"`
			Error    string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
		if m.ID == "" || time.Since(last) > 2*time.Second {
			im.log.Info("pull progress", "image", ref, "status", m.Status, "layer", m.ID, "progress", m.Progress)
			last = time.Now()
		}
	}
	if _, err := im.docker.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return errors.New("pull finished but the image is still missing")
		}
		return err
	}
	return nil
}
