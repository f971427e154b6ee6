package cmd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/docker/docker/client"
	"github.com/spf13/cobra"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/runtimes"
)

// newImagesCmd groups the runtime image commands (pkg/runtimes).
func newImagesCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "images",
		Short: "Build and list the sandbox runtime images of the language catalog",
	}
	c.AddCommand(newImagesBuildCmd(g), newImagesListCmd())
	return c
}

func newImagesBuildCmd(g *globals) *cobra.Command {
	var (
		b            runtimes.Builder
		runtimesFile string
	)
	c := &cobra.Command{
		Use:   "build [LANGUAGE|IMAGE-GROUP...]",
		Short: "Build missing or outdated runtime images from their recipes",
		Long: `Build the runtime images the language catalog needs, from the recipes in
pkg/runtimes (Debian packages on a common base), through the Docker Engine at
DOCKER_HOST. With no arguments every image is built; otherwise the images of
the named languages (catalog ids or aliases) or image groups (gcc, jvm, ...).

An image is cached by its recipe: one whose org.execbox.recipe label matches
is skipped, so a second run takes seconds. The base is pulled from a registry
(--base pull) or made with mmdebstrap and imported (--base mmdebstrap, needs
root and the mmdebstrap package); --base auto tries the pull first. Each
image's packages are installed with apt-get in a container from the base on
the host network, then committed; each build logs to CACHE-DIR/logs.`,
	}
	fs := flagenv.New(c.Flags())
	b.BuildConfig = runtimes.DefaultBuildConfig()
	b.RegisterFlags(fs)
	catalog.RegisterFlags(fs, &runtimesFile)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := fs.Err(); err != nil {
			return err
		}
		cat, err := catalog.LoadOrDefault(runtimesFile)
		if err != nil {
			return err
		}
		recipes, err := selectRecipes(cat, args)
		if err != nil {
			return err
		}
		dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
		if err != nil {
			return fmt.Errorf("docker client: %w", err)
		}
		defer dc.Close()
		ctx, stop := signalContext()
		defer stop()
		b.Docker, b.Progress = dc, cmd.ErrOrStderr()
		outs, err := b.Build(ctx, recipes)
		for _, o := range outs {
			fmt.Fprintf(cmd.OutOrStdout(), "%-36s %-7s %5d MB  %s\n", o.Image, o.How, o.Size>>20, runtimesVersions(o))
		}
		return err
	}
	return c
}

func runtimesVersions(o runtimes.Outcome) string {
	if o.Err != nil {
		return o.Err.Error()
	}
	return runtimes.FormatVersions(o.Versions)
}

// selectRecipes maps arguments (language ids or aliases, or group names) to
// recipes; none means every recipe an image of cat needs.
func selectRecipes(cat *catalog.Catalog, args []string) ([]runtimes.Recipe, error) {
	want := map[string]runtimes.Recipe{}
	add := func(image, why string) error {
		r, ok := runtimes.ByImage(image)
		if !ok {
			return fmt.Errorf("%s: image %s has no recipe (it comes from elsewhere: pull or build it yourself)", why, image)
		}
		want[r.Name] = r
		return nil
	}
	if len(args) == 0 {
		for _, l := range cat.All() {
			if _, ok := runtimes.ByImage(l.Image); ok {
				_ = add(l.Image, l.ID)
			}
		}
	}
	for _, a := range args {
		if r, ok := runtimes.ByName(a); ok {
			want[r.Name] = r
			continue
		}
		l, ok := cat.Lookup(a, "")
		if !ok {
			return nil, fmt.Errorf("%q is neither a catalog language nor an image group (%s)", a, strings.Join(groupNames(), ", "))
		}
		if err := add(l.Image, a); err != nil {
			return nil, err
		}
	}
	out := make([]runtimes.Recipe, 0, len(want))
	for _, r := range want {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func groupNames() []string {
	var out []string
	for _, r := range runtimes.All() {
		out = append(out, r.Name)
	}
	return out
}

func newImagesListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the runtime images: present, outdated or missing, size and versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dc, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
			if err != nil {
				return fmt.Errorf("docker client: %w", err)
			}
			defer dc.Close()
			ctx := cmd.Context()
			base, _ := runtimes.ExistingBaseHash(ctx, dc)
			for _, r := range runtimes.All() {
				state, size, versions := "missing", int64(0), ""
				if ii, err := dc.ImageInspect(ctx, r.Image()); err == nil && ii.Config != nil {
					state, size = "present", ii.Size
					if ii.Config.Labels[runtimes.LabelRecipe] != r.Hash(base) {
						state = "outdated"
					}
					versions = runtimes.FormatVersions(runtimes.VersionsOf(ii.Config.Labels))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-36s %-8s %5d MB  %s\n", r.Image(), state, size>>20, versions)
			}
			return nil
		},
	}
}
