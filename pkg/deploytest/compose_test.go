package deploytest

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/execbox/app/pkg/testenv"
)

// roles and the port each listens on (the binary's defaults).
var roles = map[string]string{
	"gateway":  "8085",
	"queue":    "8086",
	"worker":   "8087",
	"executor": "8088",
	"storage":  "8089",
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Networks map[string]*struct {
		Internal bool `yaml:"internal"`
	} `yaml:"networks"`
}

type composeService struct {
	Image       string    `yaml:"image"`
	Build       yaml.Node `yaml:"build"`
	Command     yaml.Node `yaml:"command"`
	Environment yaml.Node `yaml:"environment"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	MemLimit string `yaml:"mem_limit"`
	Deploy   struct {
		Resources struct {
			Limits struct {
				Memory string `yaml:"memory"`
			} `yaml:"limits"`
		} `yaml:"resources"`
	} `yaml:"deploy"`
	Ports     []string  `yaml:"ports"`
	Networks  yaml.Node `yaml:"networks"`
	DependsOn yaml.Node `yaml:"depends_on"`
	Volumes   []string  `yaml:"volumes"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// strs decodes a string or a list of strings.
func strs(t *testing.T, n yaml.Node) []string {
	t.Helper()
	switch n.Kind {
	case 0:
		return nil
	case yaml.ScalarNode:
		return strings.Fields(n.Value)
	}
	var out []string
	if err := n.Decode(&out); err != nil {
		t.Fatalf("line %d: %v", n.Line, err)
	}
	return out
}

// keys decodes a list of names or a map keyed by name (networks, depends_on).
func keys(t *testing.T, n yaml.Node) map[string]yaml.Node {
	t.Helper()
	out := map[string]yaml.Node{}
	switch n.Kind {
	case 0:
	case yaml.SequenceNode:
		for _, s := range strs(t, n) {
			out[s] = yaml.Node{}
		}
	default:
		if err := n.Decode(&out); err != nil {
			t.Fatalf("line %d: %v", n.Line, err)
		}
	}
	return out
}

// env decodes an environment map or NAME=value list.
func env(t *testing.T, n yaml.Node) map[string]string {
	t.Helper()
	out := map[string]string{}
	switch n.Kind {
	case 0:
	case yaml.SequenceNode:
		for _, kv := range strs(t, n) {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		var m map[string]any
		if err := n.Decode(&m); err != nil {
			t.Fatalf("line %d: %v", n.Line, err)
		}
		for k, v := range m {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func (s composeService) memLimit() string {
	if s.MemLimit != "" {
		return s.MemLimit
	}
	return s.Deploy.Resources.Limits.Memory
}

func TestComposeRolesShareOneImage(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	images := map[string]bool{}
	built := false
	for role := range roles {
		s, ok := c.Services[role]
		if !ok {
			t.Errorf("no service %q", role)
			continue
		}
		images[s.Image] = true
		if cmd := strs(t, s.Command); len(cmd) == 0 || cmd[0] != role {
			t.Errorf("%s: command %q, want it to start with %q", role, cmd, role)
		}
		if s.Build.Kind != 0 {
			built = true
			var b struct {
				Dockerfile string `yaml:"dockerfile"`
			}
			if s.Build.Kind == yaml.MappingNode {
				if err := s.Build.Decode(&b); err != nil {
					t.Fatal(err)
				}
			}
			if b.Dockerfile != "Containerfile" {
				t.Errorf("%s: build.dockerfile = %q, want Containerfile", role, b.Dockerfile)
			}
		}
	}
	if len(images) != 1 {
		t.Errorf("roles use %d images %v, want one", len(images), images)
	}
	for img := range images {
		if !strings.HasPrefix(img, "execbox/app:") {
			t.Errorf("role image %q, want execbox/app:<version>", img)
		}
	}
	if !built {
		t.Error("no role service builds the image (build: with the Containerfile)")
	}
}

func TestComposeRolesHaveHealthchecksAndMemoryLimits(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	memLimit := regexp.MustCompile(`^[0-9]+(b|k|kb|m|mb|g|gb)?$`)
	for role, port := range roles {
		s := c.Services[role]
		if s.Healthcheck == nil {
			t.Errorf("%s: no healthcheck", role)
		} else {
			want := []string{"CMD", "/app", "healthcheck", "--url", "http://127.0.0.1:" + port + "/health"}
			if !slices.Equal(s.Healthcheck.Test, want) {
				t.Errorf("%s: healthcheck %q, want %q", role, s.Healthcheck.Test, want)
			}
		}
		if p := env(t, s.Environment)["EXECBOX_PORT"]; p != "" && p != port {
			t.Errorf("%s: EXECBOX_PORT=%s, but its healthcheck and peers use %s", role, p, port)
		}
		if m := strings.ToLower(s.memLimit()); !memLimit.MatchString(m) {
			t.Errorf("%s: memory limit %q, want one (mem_limit or deploy.resources.limits.memory)", role, m)
		}
	}
}

func TestComposeDependsOnWaitsForHealth(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for name, s := range c.Services {
		for dep, n := range keys(t, s.DependsOn) {
			target, ok := c.Services[dep]
			if !ok {
				t.Errorf("%s depends on unknown service %q", name, dep)
				continue
			}
			var cond struct {
				Condition string `yaml:"condition"`
			}
			if n.Kind == yaml.MappingNode {
				if err := n.Decode(&cond); err != nil {
					t.Fatal(err)
				}
			}
			if target.Healthcheck != nil && cond.Condition != "service_healthy" {
				t.Errorf("%s depends on %s with condition %q, want service_healthy", name, dep, cond.Condition)
			}
		}
	}
}

// Every http://host:port a role is configured with must be a service
// listening on that port.
func TestComposeRoleURLsPointAtServices(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for role := range roles {
		for k, v := range env(t, c.Services[role].Environment) {
			for _, raw := range strings.Split(v, ",") {
				u, err := url.Parse(raw)
				if err != nil || u.Scheme != "http" {
					continue
				}
				port, ok := roles[u.Hostname()]
				if !ok {
					t.Errorf("%s: %s=%s: %q is not a role service", role, k, v, u.Hostname())
				} else if u.Port() != port {
					t.Errorf("%s: %s=%s: %s listens on %s", role, k, v, u.Hostname(), port)
				}
			}
		}
	}
}

// TestComposeOnlyExecutorReachesDocker: only execbox's Docker API guard
// mounts the Docker socket, only the executor shares a network with it, and
// both agree on the executor's instance label, which the guard enforces.
func TestComposeOnlyExecutorReachesDocker(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	guard, ok := c.Services["docker-guard"]
	if !ok {
		t.Fatal("no docker-guard service")
	}
	if cmd := strs(t, guard.Command); len(cmd) == 0 || cmd[0] != "docker-guard" {
		t.Errorf("docker-guard command %q, want app docker-guard", cmd)
	}
	if guard.Image != c.Services["executor"].Image {
		t.Errorf("docker-guard image %q, want the roles' image %q", guard.Image, c.Services["executor"].Image)
	}
	if !slices.Contains(guard.Volumes, "/var/run/docker.sock:/var/run/docker.sock:ro") {
		t.Errorf("docker-guard volumes %q: want the Docker socket mounted read-only", guard.Volumes)
	}
	ge := env(t, guard.Environment)
	if ge["EXECBOX_GUARD_DOCKER_HOST"] != "unix:///var/run/docker.sock" {
		t.Errorf("docker-guard EXECBOX_GUARD_DOCKER_HOST=%q, want the mounted socket", ge["EXECBOX_GUARD_DOCKER_HOST"])
	}
	guardNets := keys(t, guard.Networks)
	if len(guardNets) == 0 {
		t.Fatal("docker-guard is on the default network, shared with everything")
	}
	for n := range guardNets {
		if net := c.Networks[n]; net == nil || !net.Internal {
			t.Errorf("docker-guard network %q is not internal", n)
		}
	}
	var sharing []string
	for name, s := range c.Services {
		if name == "docker-guard" {
			continue
		}
		for n := range keys(t, s.Networks) {
			if _, ok := guardNets[n]; ok {
				sharing = append(sharing, name)
				break
			}
		}
		for _, v := range s.Volumes {
			if strings.Contains(v, "docker.sock") {
				t.Errorf("%s mounts the Docker socket", name)
			}
		}
		if _, ok := env(t, s.Environment)["DOCKER_HOST"]; ok && name != "executor" {
			t.Errorf("%s has DOCKER_HOST", name)
		}
	}
	sort.Strings(sharing)
	if !slices.Equal(sharing, []string{"executor"}) {
		t.Errorf("services sharing a network with docker-guard: %v, want only executor", sharing)
	}
	ee := env(t, c.Services["executor"].Environment)
	if h := ee["DOCKER_HOST"]; h != "tcp://docker-guard:2375" {
		t.Errorf("executor DOCKER_HOST=%q, want tcp://docker-guard:2375", h)
	}
	if ge["EXECBOX_GUARD_LISTEN"] != "0.0.0.0:2375" {
		t.Errorf("docker-guard EXECBOX_GUARD_LISTEN=%q, want 0.0.0.0:2375 (its internal network)", ge["EXECBOX_GUARD_LISTEN"])
	}
	for _, k := range []string{"EXECBOX_EXECUTOR_INSTANCE", "EXECBOX_RUNTIME"} {
		if ee[k] != ge[k] {
			t.Errorf("%s: executor %q, docker-guard %q: they must agree (the guard enforces it)", k, ee[k], ge[k])
		}
	}
	if ee["EXECBOX_EXECUTOR_INSTANCE"] == "" {
		t.Error("EXECBOX_EXECUTOR_INSTANCE is empty: the guard would accept any executor's label")
	}
}

func TestComposeOnlyGatewayPublishesPorts(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for name, s := range c.Services {
		switch {
		case name == "gateway":
			if !slices.Equal(s.Ports, []string{"8085:8085"}) {
				t.Errorf("gateway ports %q, want [8085:8085]", s.Ports)
			}
		case len(s.Ports) > 0:
			t.Errorf("%s publishes ports %q", name, s.Ports)
		}
	}
}

func TestComposeRedisIsDurable(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	cmd := strings.Join(strs(t, c.Services["redis"].Command), " ")
	for _, want := range []string{"--appendonly yes", "--appendfsync always", "--maxmemory-policy noeviction"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("redis command %q lacks %q", cmd, want)
		}
	}
	if len(c.Services["redis"].Volumes) == 0 || len(c.Services["postgres"].Volumes) == 0 {
		t.Error("redis and postgres need volumes for their data")
	}
}

// composeVar matches ${NAME}, ${NAME:-default} and ${NAME-default}.
var composeVar = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}`)

// unpinned says why an image reference, with compose variables at their
// defaults, does not name one release ("" if it does): no tag, or "latest".
// A digest pins it whatever the tag.
func unpinned(image string) string {
	ref := composeVar.ReplaceAllString(image, "$1")
	if strings.Contains(ref, "@sha256:") {
		return ""
	}
	name, tag := ref, ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	switch {
	case name == "":
		return "no image"
	case tag == "":
		return "no tag (means latest)"
	case tag == "latest":
		return "tag latest"
	}
	return ""
}

func TestUnpinned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		image string
		bad   bool
	}{
		{"redis:7", false},
		{"tecnativa/docker-socket-proxy:v0.4.2", false},
		{"registry.example:5000/team/app:1.2.3", false},
		{"ghcr.io/x/y@sha256:0123abcd", false},
		{"ghcr.io/x/y:latest@sha256:0123abcd", false},
		{"app:${VERSION:-1.2.3}", false},
		{"tecnativa/docker-socket-proxy", true},
		{"tecnativa/docker-socket-proxy:latest", true},
		{"registry.example:5000/team/app", true},
		{"app:${VERSION:-latest}", true},
		{"app:${VERSION-latest}", true},
		{"app:${VERSION}", true},
		{"", true},
	}
	for _, tc := range tests {
		if got := unpinned(tc.image); (got != "") != tc.bad {
			t.Errorf("unpinned(%q) = %q, want bad=%v", tc.image, got, tc.bad)
		}
	}
}

// Every image compose pulls names a release: "latest" (or no tag) would run
// whatever was published last, untested. Only our own image, built from
// this checkout, may default to latest.
func TestComposeImagesArePinned(t *testing.T) {
	t.Parallel()
	c := loadCompose(t)
	for name, s := range c.Services {
		if s.Build.Kind != 0 && strings.HasPrefix(s.Image, "execbox/") {
			continue // built locally
		}
		if why := unpinned(s.Image); why != "" {
			t.Errorf("%s: image %q: %s; pin a released version", name, s.Image, why)
		}
	}
}

// TestComposeShipsNoSecrets: compose refuses to start without the internal
// token and the PostgreSQL password (${VAR:?message}), and no password is
// written into the file (Judge0's CVE-2024-29021 came from shipped default
// passwords).
func TestComposeShipsNoSecrets(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := loadCompose(t)
	required := regexp.MustCompile(`^\$\{[A-Z_]+:\?[^}]+\}$`)
	for name := range roles {
		env := env(t, c.Services[name].Environment)
		if v := env["EXECBOX_INTERNAL_TOKEN"]; !required.MatchString(v) {
			t.Errorf("%s: EXECBOX_INTERNAL_TOKEN is %q, want a required variable ${EXECBOX_INTERNAL_TOKEN:?...}", name, v)
		}
	}
	if v := env(t, c.Services["postgres"].Environment)["POSTGRES_PASSWORD"]; !required.MatchString(v) {
		t.Errorf("postgres: POSTGRES_PASSWORD is %q, want a required variable", v)
	}
	for _, m := range regexp.MustCompile(`(?:postgres|postgresql|redis)://[^\s"']+`).FindAllString(string(data), -1) {
		u, err := url.Parse(m)
		if err != nil {
			t.Errorf("URL %q: %v", m, err)
			continue
		}
		if _, has := u.User.Password(); has {
			t.Errorf("URL %q carries a password; pass it in a variable (PGPASSWORD)", m)
		}
	}
}
