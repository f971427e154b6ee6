package sandbox

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/execbox/app/pkg/executor"
)

// removeOrphans removes every container carrying this instance's label:
// leftovers of a crash at start, everything at shutdown.
func (d *Driver) removeOrphans(ctx context.Context) error {
	list, err := d.docker.ContainerList(ctx, container.ListOptions{
		All: true, Filters: filters.NewArgs(filters.Arg("label", LabelExecutor+"="+d.cfg.Instance)),
	})
	if err != nil {
		return fmt.Errorf("sandbox: list containers: %w", err)
	}
	for _, c := range list {
		if err := d.docker.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			d.log.Warn("remove orphan sandbox", "container", short(c.ID), "err", err)
			continue
		}
		d.log.Info("removed orphan sandbox", "container", short(c.ID))
	}
	return nil
}

// Languages reports each configured language and whether its image is
// present locally.
func (d *Driver) Languages(ctx context.Context) []LanguageStatus {
	var out []LanguageStatus
	for _, l := range d.cfg.Catalog.All() {
		st := LanguageStatus{ID: l.ID, Name: l.Name, Version: l.Version, Image: l.Image, Present: d.images.present(ctx, l.Image)}
		if v, ok := d.images.version(ctx, l.Image, l.ID); ok {
			// What the image itself says, over what the catalog was told.
			st.Version, st.ImageVersion = v, v
		}
		d.mu.Lock()
		if p := d.pools[l.ID]; p != nil {
			st.PoolIdle = len(p.idle)
		}
		d.mu.Unlock()
		out = append(out, st)
	}
	return out
}

// LanguageStatus is one configured language as this executor sees it.
type LanguageStatus = executor.LanguageStatus
