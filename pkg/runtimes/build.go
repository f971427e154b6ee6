package runtimes

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/execbox/app/pkg/flagenv"
)

// Base sources.
const (
	// BaseAuto pulls BaseFrom and falls back to mmdebstrap when no
	// registry answers.
	BaseAuto = "auto"
	// BasePull tags a pulled Debian image (production, with a registry).
	BasePull = "pull"
	// BaseMmdebstrap makes a minbase root file system with mmdebstrap and
	// imports it (no registry needed).
	BaseMmdebstrap = "mmdebstrap"
)

// DefaultBaseFrom is the registry image the base comes from with BasePull.
const DefaultBaseFrom = "debian:" + Suite + "-slim"

// DefaultCacheDir keeps base tarballs, downloaded packages and build logs.
const DefaultCacheDir = "/var/cache/execbox"

// BuildConfig are the builder's settings.
type BuildConfig struct {
	// CacheDir holds rootfs/ (base tarballs), apt/<image>/ (downloaded
	// packages and lists, mounted into build containers, never committed)
	// and logs/<image>.log.
	CacheDir string
	// Mirror is the Debian archive URI; empty reads the host's apt sources.
	Mirror string
	// AptOptions are apt -o settings (NAME=VALUE) for every apt call;
	// nil reads the host's (release date checks and proxies).
	AptOptions []string
	// Base is BaseAuto, BasePull or BaseMmdebstrap; BaseFrom the image
	// BasePull pulls.
	Base     string
	BaseFrom string
	// Parallel is how many images build at once.
	Parallel int
	// Force rebuilds images that are current.
	Force bool
}

// DefaultBuildConfig returns the defaults, which the flags show and Build
// fills zero fields from.
func DefaultBuildConfig() BuildConfig {
	return BuildConfig{CacheDir: DefaultCacheDir, Base: BaseAuto, BaseFrom: DefaultBaseFrom, Parallel: 3}
}

// RegisterFlags binds the builder's settings (app images build) to c.
func (c *BuildConfig) RegisterFlags(fs *flagenv.Set) {
	d := DefaultBuildConfig()
	fs.String(&c.Base, "base", "EXECBOX_IMAGES_BASE", d.Base, "where the base image comes from: auto (pull, else mmdebstrap), pull or mmdebstrap")
	fs.String(&c.BaseFrom, "base-from", "EXECBOX_IMAGES_BASE_FROM", d.BaseFrom, "registry image the base is made from with --base pull")
	fs.String(&c.CacheDir, "cache-dir", "EXECBOX_CACHE_DIR", d.CacheDir, "cache of base tarballs, downloaded packages and build logs")
	fs.String(&c.Mirror, "mirror", "EXECBOX_DEBIAN_MIRROR", d.Mirror, "Debian archive URI (default: the host's apt sources)")
	fs.Int(&c.Parallel, "parallel", "EXECBOX_IMAGES_PARALLEL", d.Parallel, "images built at once")
	fs.Bool(&c.Force, "force", "EXECBOX_IMAGES_FORCE", d.Force, "rebuild images that are current")
}

// Builder builds runtime images from their recipes through the Docker
// Engine API.
type Builder struct {
	BuildConfig
	Docker client.APIClient
	// Progress receives one line per step and image (required).
	Progress io.Writer

	mu sync.Mutex // serializes Progress lines
}

// Outcome is what happened to one image.
type Outcome struct {
	Image    string
	How      string // "cached", "built", "failed"
	Duration time.Duration
	Size     int64
	Versions map[string]string
	Err      error
}

func (b *Builder) progress(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprintf(b.Progress, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// Build makes the base, then the recipes' images in parallel. It returns one
// outcome per recipe and an error naming every image that failed.
func (b *Builder) Build(ctx context.Context, recipes []Recipe) ([]Outcome, error) {
	d := DefaultBuildConfig()
	b.CacheDir = cmp.Or(b.CacheDir, d.CacheDir)
	b.BaseFrom = cmp.Or(b.BaseFrom, d.BaseFrom)
	b.Base = cmp.Or(b.Base, d.Base)
	if b.Parallel <= 0 {
		b.Parallel = d.Parallel
	}
	for _, d := range []string{"rootfs", "apt", "logs"} {
		if err := os.MkdirAll(filepath.Join(b.CacheDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("cache dir: %w", err)
		}
	}
	if b.AptOptions == nil {
		b.AptOptions = hostAptOptions(ctx)
	}
	start := time.Now()
	baseHash, err := b.buildBase(ctx)
	if err != nil {
		return nil, fmt.Errorf("base image %s: %w", BaseImage, err)
	}
	out := make([]Outcome, len(recipes))
	sem := make(chan struct{}, b.Parallel)
	var wg sync.WaitGroup
	for i, r := range recipes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				out[i] = Outcome{Image: r.Image(), How: "failed", Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			out[i] = b.buildDerived(ctx, r, baseHash)
		}()
	}
	wg.Wait()
	var errs []error
	for _, o := range out {
		if o.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Image, o.Err))
		}
	}
	b.progress("images done in %s (%d images, %d failed)", time.Since(start).Round(100*time.Millisecond), len(out), len(errs))
	return out, errors.Join(errs...)
}

// Current reports whether image exists and was built from hash.
func Current(ctx context.Context, dc client.APIClient, ref, hash string) bool {
	ii, err := dc.ImageInspect(ctx, ref)
	return err == nil && ii.Config != nil && ii.Config.Labels[LabelRecipe] == hash
}

// BaseHash is the recipe hash of the base made from source (BasePull with
// from, or BaseMmdebstrap).
func BaseHash(source, from string) string {
	if source == BasePull {
		return hashOf("v="+recipeVersion, "pull="+from, "path="+imagePath)
	}
	return hashOf("v="+recipeVersion, "suite="+Suite, "variant=minbase", "path="+imagePath)
}

// ExistingBaseHash returns the recipe hash of the base image present, if
// any: derived images are current when built on it.
func ExistingBaseHash(ctx context.Context, dc client.APIClient) (string, bool) {
	ii, err := dc.ImageInspect(ctx, BaseImage)
	if err != nil || ii.Config == nil || ii.Config.Labels[LabelRecipe] == "" {
		return "", false
	}
	return ii.Config.Labels[LabelRecipe], true
}

func (b *Builder) buildBase(ctx context.Context) (string, error) {
	source := b.Base
	switch source {
	case BaseAuto:
		// A present base of either kind is kept unless forced.
		if h, ok := ExistingBaseHash(ctx, b.Docker); ok && !b.Force &&
			(h == BaseHash(BasePull, b.BaseFrom) || h == BaseHash(BaseMmdebstrap, "")) {
			b.progress("image %s: cached", BaseImage)
			return h, nil
		}
		if err := b.pullBase(ctx); err == nil {
			return b.tagBase(ctx, BaseHash(BasePull, b.BaseFrom))
		} else {
			b.progress("image %s: cannot pull %s (%v): building it with mmdebstrap", BaseImage, b.BaseFrom, err)
		}
		source = BaseMmdebstrap
	case BasePull, BaseMmdebstrap:
	default:
		return "", fmt.Errorf("base %q: want %s, %s or %s", b.Base, BaseAuto, BasePull, BaseMmdebstrap)
	}
	hash := BaseHash(source, b.BaseFrom)
	if !b.Force && Current(ctx, b.Docker, BaseImage, hash) {
		b.progress("image %s: cached", BaseImage)
		return hash, nil
	}
	if source == BasePull {
		if err := b.pullBase(ctx); err != nil {
			return "", err
		}
		return b.tagBase(ctx, hash)
	}
	return hash, b.importBase(ctx, hash)
}

// pullBase pulls BaseFrom, bounded so that a machine without a registry
// falls back quickly.
func (b *Builder) pullBase(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	b.progress("image %s: pulling %s", BaseImage, b.BaseFrom)
	rc, err := b.Docker.ImagePull(ctx, b.BaseFrom, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m struct {
			Error string `json:"error"`
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if m.Error != "" {
			return errors.New(m.Error)
		}
	}
}

// tagBase commits a created (never started) container of BaseFrom as the
// base, with the labels and environment the derived images expect.
func (b *Builder) tagBase(ctx context.Context, hash string) (string, error) {
	cr, err := b.Docker.ContainerCreate(ctx, &container.Config{Image: b.BaseFrom, Cmd: []string{"true"}}, nil, nil, nil, "")
	if err != nil {
		return "", err
	}
	defer b.Docker.ContainerRemove(context.WithoutCancel(ctx), cr.ID, container.RemoveOptions{Force: true})
	if _, err := b.Docker.ContainerCommit(ctx, cr.ID, container.CommitOptions{
		Reference: BaseImage, Changes: baseChanges(hash),
	}); err != nil {
		return "", err
	}
	b.progress("image %s: tagged from %s", BaseImage, b.BaseFrom)
	return hash, nil
}

func baseChanges(hash string) []string {
	return []string{"LABEL " + LabelRecipe + "=" + hash, "ENV PATH=" + imagePath, "ENV LANG=C.UTF-8", `CMD ["bash"]`}
}

// importBase builds a minbase root file system with mmdebstrap (cached as a
// tarball by hash) and imports it.
func (b *Builder) importBase(ctx context.Context, hash string) error {
	start := time.Now()
	tarball := filepath.Join(b.CacheDir, "rootfs", "execbox_runtime-base_"+Suite+"-"+hash+".tar")
	how := "imported"
	if st, err := os.Stat(tarball); err != nil || st.Size() == 0 {
		how = "built"
		mirror, err := b.mirror()
		if err != nil {
			return err
		}
		logPath := b.logPath(BaseImage)
		lf, err := os.Create(logPath)
		if err != nil {
			return err
		}
		defer lf.Close()
		b.progress("image %s: mmdebstrap %s from %s (log: %s)", BaseImage, Suite, mirror, logPath)
		args := []string{"--variant=minbase", "--mode=root", "--format=tar",
			"--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"}
		if _, err := os.Stat("/usr/share/mmdebstrap/hooks/eatmydata"); err == nil {
			args = append(args, "--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata")
		}
		for _, o := range b.AptOptions {
			name, val, _ := strings.Cut(o, "=")
			args = append(args, fmt.Sprintf("--aptopt=%s %q", name, val))
		}
		// Hermetic: no mirror, resolver or host name of the build machine.
		args = append(args, `--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"; : >"$1/etc/apt/sources.list"`,
			Suite, tarball+".tmp", "deb "+mirror+" "+Suite+" main")
		cmd := exec.CommandContext(ctx, "mmdebstrap", args...)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Run(); err != nil {
			os.Remove(tarball + ".tmp")
			return fmt.Errorf("mmdebstrap (is it installed? log: %s): %w", logPath, err)
		}
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			return err
		}
	}
	f, err := os.Open(tarball)
	if err != nil {
		return err
	}
	defer f.Close()
	old := b.imageID(ctx, BaseImage)
	rc, err := b.Docker.ImageImport(ctx, image.ImportSource{Source: f, SourceName: "-"}, BaseImage,
		image.ImportOptions{Changes: baseChanges(hash)})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	_, _ = io.Copy(io.Discard, rc)
	rc.Close()
	if !Current(ctx, b.Docker, BaseImage, hash) {
		return fmt.Errorf("image lacks label %s=%s after import", LabelRecipe, hash)
	}
	b.dropReplaced(ctx, BaseImage, old)
	b.progress("image %s: %s in %s", BaseImage, how, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// buildScript runs in the build container: install, clean up, setup, then
// print one "@@version ID OUTPUT" line per language.
const buildScript = `set -eu
mirror=$1 suite=$2 pkgs=$3 aptopts=$4 setup=$5 versions=$6
export DEBIAN_FRONTEND=noninteractive
rm -f /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list
echo "deb $mirror $suite main" >/etc/apt/sources.list
apt-get $aptopts -qq update
apt-get $aptopts -qq install -y --no-install-recommends $pkgs >/dev/null
: >/etc/apt/sources.list
rm -f /var/cache/apt/*.bin /var/log/apt/*.log /var/log/dpkg.log
if [ -n "$setup" ]; then sh -euc "$setup"; fi
eval "$versions"
`

func versionScript(r Recipe) string {
	var sb strings.Builder
	for _, id := range r.Languages() {
		fmt.Fprintf(&sb, "printf '@@version %s '; { %s ; } </dev/null 2>&1 | head -n 5 | tr '\\n' ' '; echo\n", id, r.Versions[id])
	}
	return sb.String()
}

func (b *Builder) buildDerived(ctx context.Context, r Recipe, baseHash string) Outcome {
	start := time.Now()
	ref := r.Image()
	hash := r.Hash(baseHash)
	o := Outcome{Image: ref}
	if !b.Force {
		if ii, err := b.Docker.ImageInspect(ctx, ref); err == nil && ii.Config != nil && ii.Config.Labels[LabelRecipe] == hash {
			o.How, o.Size, o.Versions = "cached", ii.Size, versionsOf(ii.Config.Labels)
			b.progress("image %s: cached", ref)
			return o
		}
	}
	fail := func(err error) Outcome {
		o.How, o.Err, o.Duration = "failed", err, time.Since(start)
		b.progress("image %s: FAILED after %s: %v", ref, o.Duration.Round(100*time.Millisecond), err)
		return o
	}
	mirror, err := b.mirror()
	if err != nil {
		return fail(err)
	}
	name := "runtime-" + r.Name
	cdir := filepath.Join(b.CacheDir, "apt", name)
	for _, d := range []string{"archives/partial", "lists/partial"} {
		if err := os.MkdirAll(filepath.Join(cdir, d), 0o755); err != nil {
			return fail(err)
		}
	}
	aptopts := "-o APT::Keep-Downloaded-Packages=true -o Dpkg::Options::=--force-unsafe-io"
	for _, opt := range b.AptOptions {
		aptopts += " -o " + opt
	}
	logPath := b.logPath(ref)
	lf, err := os.Create(logPath)
	if err != nil {
		return fail(err)
	}
	defer lf.Close()
	b.progress("image %s: apt-get install %s (log: %s)", ref, strings.Join(r.Packages, " "), logPath)
	// Host network: the build container fetches from the mirror exactly as
	// the host's apt does. Settings go in as arguments, not environment,
	// because the commit would keep environment variables in the image;
	// the cache mounts are not part of the committed image.
	cr, err := b.Docker.ContainerCreate(ctx, &container.Config{
		Image: BaseImage,
		Cmd: []string{"sh", "-c", buildScript, "sh", mirror, Suite, strings.Join(r.Packages, " "), aptopts,
			r.Setup, versionScript(r)},
		Labels: map[string]string{"execbox.build": name},
	}, &container.HostConfig{
		NetworkMode: "host",
		Binds: []string{filepath.Join(cdir, "archives") + ":/var/cache/apt/archives",
			filepath.Join(cdir, "lists") + ":/var/lib/apt/lists"},
	}, nil, nil, fmt.Sprintf("execbox-build-%s-%d", name, os.Getpid()))
	if err != nil {
		return fail(fmt.Errorf("create build container: %w", err))
	}
	defer b.Docker.ContainerRemove(context.WithoutCancel(ctx), cr.ID, container.RemoveOptions{Force: true})
	if err := b.Docker.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		return fail(fmt.Errorf("start build container: %w", err))
	}
	var out bytes.Buffer
	logs, err := b.Docker.ContainerLogs(ctx, cr.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		return fail(fmt.Errorf("build logs: %w", err))
	}
	_, _ = stdcopy.StdCopy(io.MultiWriter(lf, &out), lf, logs)
	logs.Close()
	waitC, errC := b.Docker.ContainerWait(ctx, cr.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			return fail(fmt.Errorf("build exited %d; last lines of %s:\n%s", w.StatusCode, logPath, tail(logPath, 15)))
		}
	case err := <-errC:
		return fail(fmt.Errorf("wait for build: %w", err))
	}
	versions, err := parseVersions(out.String(), r)
	if err != nil {
		return fail(fmt.Errorf("%w (log: %s)", err, logPath))
	}
	changes := []string{"LABEL " + LabelRecipe + "=" + hash, `CMD ["bash"]`}
	for _, id := range r.Languages() {
		changes = append(changes, "LABEL "+LabelVersionPrefix+id+"="+versions[id])
	}
	old := b.imageID(ctx, ref)
	if _, err := b.Docker.ContainerCommit(ctx, cr.ID, container.CommitOptions{Reference: ref, Changes: changes}); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	b.dropReplaced(ctx, ref, old)
	ii, err := b.Docker.ImageInspect(ctx, ref)
	if err != nil || ii.Config == nil || ii.Config.Labels[LabelRecipe] != hash {
		return fail(fmt.Errorf("image lacks label %s=%s after commit (%v)", LabelRecipe, hash, err))
	}
	o.How, o.Size, o.Versions, o.Duration = "built", ii.Size, versions, time.Since(start)
	b.progress("image %s: built in %s (%d MB; %s)", ref, o.Duration.Round(100*time.Millisecond), ii.Size>>20, FormatVersions(versions))
	return o
}

// parseVersions reads the "@@version ID OUTPUT" lines of a build.
func parseVersions(out string, r Recipe) (map[string]string, error) {
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "@@version ")
		if !ok {
			continue
		}
		id, text, _ := strings.Cut(rest, " ")
		v, ok := ParseVersion(text)
		if !ok {
			return nil, fmt.Errorf("language %s: no version in the output of %q: %q", id, r.Versions[id], text)
		}
		got[id] = v
	}
	for _, id := range r.Languages() {
		if got[id] == "" {
			return nil, fmt.Errorf("language %s: version command %q printed nothing", id, r.Versions[id])
		}
	}
	return got, nil
}

// versionsOf picks the version labels of an image.
func versionsOf(labels map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		if id, ok := strings.CutPrefix(k, LabelVersionPrefix); ok {
			out[id] = v
		}
	}
	return out
}

// VersionsOf returns the language versions recorded in an image's labels.
func VersionsOf(labels map[string]string) map[string]string { return versionsOf(labels) }

// FormatVersions prints "c 12.2.0, cpp 12.2.0" sorted by language.
func FormatVersions(v map[string]string) string {
	ids := make([]string, 0, len(v))
	for id := range v {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = id + " " + v[id]
	}
	return strings.Join(parts, ", ")
}

func (b *Builder) logPath(ref string) string {
	return filepath.Join(b.CacheDir, "logs", strings.NewReplacer("/", "_", ":", "_").Replace(ref)+".log")
}

func (b *Builder) imageID(ctx context.Context, ref string) string {
	ii, err := b.Docker.ImageInspect(ctx, ref)
	if err != nil {
		return ""
	}
	return ii.ID
}

// dropReplaced removes the image a rebuilt tag pointed to, so rebuilds do
// not pile up untagged images. Best effort: one still in use stays.
func (b *Builder) dropReplaced(ctx context.Context, ref, old string) {
	if old == "" || old == b.imageID(ctx, ref) {
		return
	}
	if _, err := b.Docker.ImageRemove(ctx, old, image.RemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) && !cerrdefs.IsConflict(err) {
		b.progress("image %s: could not remove the replaced image %s: %v", ref, old, err)
	}
}

func (b *Builder) mirror() (string, error) {
	if b.Mirror != "" {
		return b.Mirror, nil
	}
	m, err := HostMirror()
	if err != nil {
		return "", err
	}
	b.Mirror = m
	return m, nil
}

// HostMirror returns the Debian archive URI the host's apt uses: the first
// URIs: entry (deb822) or deb line (legacy) that is not the security
// archive. No mirror is ever written into the repository.
func HostMirror() (string, error) {
	if b, err := os.ReadFile("/etc/apt/sources.list.d/debian.sources"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "URIs:"); ok {
				for _, u := range strings.Fields(rest) {
					if !strings.Contains(u, "security") {
						return u, nil
					}
				}
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "deb" || strings.Contains(line, "security") {
				continue
			}
			for _, u := range f[1:] {
				if strings.Contains(u, "://") {
					return u, nil
				}
			}
		}
	}
	return "", errors.New("no Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list (set --mirror or EXECBOX_DEBIAN_MIRROR)")
}

// hostAptOptions returns the host's apt settings that decide whether the
// mirror can be used at all (release date checks, proxies).
func hostAptOptions(ctx context.Context) []string {
	out := []string{}
	for _, name := range []string{"Acquire::Check-Valid-Until", "Acquire::Check-Date", "Acquire::http::Proxy", "Acquire::https::Proxy"} {
		b, err := exec.CommandContext(ctx, "apt-config", "dump", name).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(line, " ")
			if ok && k == name {
				out = append(out, name+"="+strings.TrimSuffix(strings.Trim(strings.TrimSuffix(v, ";"), `"`), `"`))
				break
			}
		}
	}
	return out
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
