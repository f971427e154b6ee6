package deploytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/execbox/app/pkg/runtimes"
	"github.com/execbox/app/pkg/testenv"
)

// Stand-ins for the official Redis 7 and PostgreSQL 15 images, built from
// Debian 12's packages the way the runtime images are (no registry needed),
// each with the entry point the official image has.
var standIns = []struct {
	recipe     runtimes.Recipe
	entrypoint string // file content, or "" for none
	dockerfile string // lines added on top of the recipe's image
}{
	{
		recipe: runtimes.Recipe{Name: "standin-redis", Packages: []string{"redis-server"},
			Versions: map[string]string{"redis": "redis-server --version"}},
		dockerfile: "WORKDIR /data\nCMD [\"redis-server\"]\n",
	},
	{
		recipe: runtimes.Recipe{Name: "standin-postgres", Packages: []string{"postgresql-15"},
			// The package creates a cluster nobody uses: the entry point makes
			// its own under PGDATA, as the official image does.
			Setup:    "pg_dropcluster 15 main || true",
			Versions: map[string]string{"postgres": "/usr/lib/postgresql/15/bin/postgres --version"}},
		entrypoint: postgresEntrypoint,
		dockerfile: "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" +
			"ENV PGDATA=/var/lib/postgresql/data\n" +
			"COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh\n" +
			"ENTRYPOINT [\"/usr/local/bin/docker-entrypoint.sh\"]\nCMD [\"postgres\"]\n",
	},
}

// postgresEntrypoint does what the official image's does with
// POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB on an empty PGDATA.
const postgresEntrypoint = `#!/bin/sh
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"
as_pg() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	pw=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
	chown postgres "$pw"
	as_pg initdb -D "$PGDATA" -U "$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pw"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	as_pg pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
	if [ "$db" != postgres ]; then
		as_pg psql -q -v ON_ERROR_STOP=1 -U "$user" -d postgres -c "CREATE DATABASE \"$db\""
	fi
	as_pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
if [ "$1" = postgres ]; then
	shift
	exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" "$@"
fi
exec "$@"
`

// buildStandIns builds (or finds current) the stand-in images and returns
// their tags: redis, postgres.
func buildStandIns(t *testing.T) (redisImage, postgresImage string) {
	t.Helper()
	dc := testenv.Docker(t)
	var recipes []runtimes.Recipe
	for _, s := range standIns {
		recipes = append(recipes, s.recipe)
	}
	var progress bytes.Buffer
	b := &runtimes.Builder{BuildConfig: runtimes.DefaultBuildConfig(), Docker: dc, Progress: &progress}
	if dir := os.Getenv("EXECBOX_CACHE_DIR"); dir != "" {
		b.CacheDir = dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if _, err := b.Build(ctx, recipes); err != nil {
		t.Fatalf("stand-in images: %v\n%s", err, progress.String())
	}
	var tags []string
	for _, s := range standIns {
		dir := t.TempDir()
		df := "FROM " + s.recipe.Image() + "\n" + s.dockerfile
		if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
			t.Fatal(err)
		}
		if s.entrypoint != "" {
			if err := os.WriteFile(filepath.Join(dir, "entrypoint.sh"), []byte(s.entrypoint), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// Tagged by content, so a second run reuses the image.
		tag := "execbox-deploytest/" + s.recipe.Name + ":" + hashOf(df+s.entrypoint+s.recipe.Image())
		if exec.Command("docker", "image", "inspect", tag).Run() != nil {
			docker(t, "build", "-q", "-t", tag, dir)
		}
		tags = append(tags, tag)
	}
	return tags[0], tags[1]
}

func hashOf(s string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 16)
}

// netnsService is the service the test adds: it holds the network namespace
// every service of the stack joins.
const netnsService = "netns"

// sharedNetnsCompose rewrites compose.yaml for this machine, whose Docker
// Engine has no bridge network (and whose tests may not create networks
// with private or public addresses): every service joins one network
// namespace that has only a loopback (network_mode: service:netns), where
// each service name resolves to 127.0.0.1. The ports of the services
// differ, so they share it without clashing. That changes only how the
// services reach each other: images, commands, environment, health checks,
// limits, volumes, dependencies, read-only roots and capabilities stay
// those of compose.yaml. Nothing is published on the host: the test reaches
// the gateway's port inside that namespace. instance replaces the
// executor's instance label (executor and guard alike), so the test's
// sandboxes are its own.
func sharedNetnsCompose(t *testing.T, src []byte, anchorImage, instance string) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatal(err)
	}
	services := doc["services"].(map[string]any)
	var hosts []string
	for name, v := range services {
		s := v.(map[string]any)
		delete(s, "networks")
		delete(s, "ports")
		delete(s, "build") // the image is built by the test, from the final stage
		s["network_mode"] = "service:" + netnsService
		if e, ok := s["environment"].(map[string]any); ok {
			if _, ok := e["EXECBOX_EXECUTOR_INSTANCE"]; ok {
				e["EXECBOX_EXECUTOR_INSTANCE"] = instance
			}
		}
		hosts = append(hosts, name+":127.0.0.1")
	}
	sort.Strings(hosts)
	services[netnsService] = map[string]any{
		"image": anchorImage, "command": []string{"sleep", "infinity"}, "network_mode": "none",
		"extra_hosts": hosts, "init": true,
	}
	delete(doc, "networks")
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type composeRun struct {
	t       *testing.T
	file    string
	project string
	env     []string
}

func (c composeRun) cmd(args ...string) *exec.Cmd {
	cmd := exec.Command("docker-compose", append([]string{"-f", c.file, "-p", c.project}, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	return cmd
}

func (c composeRun) run(args ...string) string {
	c.t.Helper()
	out, err := c.cmd(args...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("docker-compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// containers returns the project's containers by service.
func (c composeRun) containers() map[string]string {
	c.t.Helper()
	out := docker(c.t, "ps", "-a", "--filter", "label=com.docker.compose.project="+c.project,
		"--format", `{{.ID}} {{.Label "com.docker.compose.service"}}`)
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if id, svc, ok := strings.Cut(line, " "); ok {
			m[svc] = id
		}
	}
	return m
}

// TestComposeFileNeedsSecrets: compose itself refuses the file without the
// internal token or the PostgreSQL password.
func TestComposeFileNeedsSecrets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatal("docker-compose is not installed: source scripts/testenv.sh")
	}
	file := filepath.Join(testenv.RepoRoot(t), "compose.yaml")
	for _, tc := range []struct {
		env  []string
		want string
	}{
		{[]string{"POSTGRES_PASSWORD=p"}, "EXECBOX_INTERNAL_TOKEN"},
		{[]string{"EXECBOX_INTERNAL_TOKEN=t"}, "POSTGRES_PASSWORD"},
	} {
		cmd := exec.Command("docker-compose", "-f", file, "config", "-q")
		cmd.Env = append(testenvWithout("EXECBOX_INTERNAL_TOKEN", "POSTGRES_PASSWORD"), tc.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("docker-compose config with %v: err %v, output %q; want a refusal naming %s", tc.env, err, out, tc.want)
		}
	}
	cmd := exec.Command("docker-compose", "-f", file, "config", "-q")
	cmd.Env = append(testenvWithout("EXECBOX_INTERNAL_TOKEN", "POSTGRES_PASSWORD"), "EXECBOX_INTERNAL_TOKEN=t", "POSTGRES_PASSWORD=p")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker-compose config with both secrets: %v\n%s", err, out)
	}
}

func testenvWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			drop = drop || k == n
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}

// TestComposeUp brings compose.yaml up for real with Compose (Debian's
// docker-compose 1.29): the execbox image from the Containerfile's final
// stage, stand-ins for Redis and PostgreSQL selected through compose
// variables, every service on one loopback-only network namespace (see
// sharedNetnsCompose). It waits until every health check passes, runs the
// README's first example against the gateway, checks each container's
// memory against its limit, and takes the stack down with no container,
// volume, network or sandbox left.
func TestComposeUp(t *testing.T) {
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatal("docker-compose is not installed: source scripts/testenv.sh")
	}
	testenv.Docker(t)
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	version := "deploytest-" + id
	buildAppImage(t, "execbox/app:"+version)
	redisImage, postgresImage := buildStandIns(t)

	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	instance := "compose-" + id
	file := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(file, sharedNetnsCompose(t, src, redisImage, instance), 0o644); err != nil {
		t.Fatal(err)
	}
	c := composeRun{t: t, file: file, project: "execboxct" + id, env: []string{
		"EXECBOX_VERSION=" + version, "EXECBOX_REDIS_IMAGE=" + redisImage, "EXECBOX_POSTGRES_IMAGE=" + postgresImage,
		"EXECBOX_INTERNAL_TOKEN=" + id + id + id, "POSTGRES_PASSWORD=pw-" + id + "'\"$&",
	}}
	downed := false
	down := func() {
		out, err := c.cmd("down", "-v", "--remove-orphans", "--timeout", "20").CombinedOutput()
		if err != nil {
			t.Errorf("docker-compose down: %v\n%s", err, out)
		}
		removeSandboxes(t, instance)
	}
	t.Cleanup(func() {
		if !downed {
			if t.Failed() {
				out, _ := c.cmd("logs", "--no-color", "--tail", "40").CombinedOutput()
				t.Logf("docker-compose logs:\n%s", out)
			}
			down()
		}
	})

	start := time.Now()
	c.run("up", "-d", "--no-build")
	ctrs := c.containers()
	// Every service with a health check healthy (up -d waited only for
	// those others depend on).
	deadline := time.Now().Add(3 * time.Minute)
	for {
		pending := map[string]string{}
		for svc, cid := range ctrs {
			st := strings.TrimSpace(docker(t, "inspect", "--format", "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}", cid))
			if st != "healthy" && !(svc == netnsService && st == "running") {
				pending[svc] = st
			}
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy after 3 min: %v", pending)
		}
		time.Sleep(time.Second)
	}
	t.Logf("stack of %d services healthy in %.1f s", len(ctrs), time.Since(start).Seconds())
	for _, svc := range []string{"gateway", "queue", "worker", "executor", "storage", "redis", "postgres", "docker-guard"} {
		if ctrs[svc] == "" {
			t.Errorf("no container for %s", svc)
		}
	}

	// The README's first example, as written, against the gateway's port
	// (inside the stack's network namespace).
	pid := strings.TrimSpace(docker(t, "inspect", "--format", "{{.State.Pid}}", ctrs[netnsService]))
	example := firstREADMEExample(t)
	var res execResult
	for deadline := time.Now().Add(2 * time.Minute); ; {
		cmd := exec.Command("nsenter", "--net=/proc/"+pid+"/ns/net", "sh", "-c", example)
		out, err := cmd.Output()
		if err == nil && json.Unmarshal(out, &res) == nil && res.Status != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("README example through the gateway: %v\n%s", err, out)
		}
		time.Sleep(time.Second)
	}
	if res.Status != "accepted" || res.Result.Run.Stdout.Text != "olleh\n" || res.Result.Executor != instance {
		t.Errorf("README example answered %+v; want accepted, olleh, run by %s", res, instance)
	}

	// Memory: every container within its limit; the roles' limits are
	// compose.yaml's mem_limit.
	limits := map[string]int64{}
	var c0 composeFile
	if err := yaml.Unmarshal(src, &c0); err != nil {
		t.Fatal(err)
	}
	for svc, s := range c0.Services {
		if m := s.memLimit(); m != "" {
			limits[svc] = parseMem(t, m)
		}
	}
	for svc, cid := range ctrs {
		var st struct{ MemUsage string }
		if err := json.Unmarshal([]byte(docker(t, "stats", "--no-stream", "--format", "{{json .}}", cid)), &st); err != nil {
			t.Fatal(err)
		}
		used, limit, _ := strings.Cut(st.MemUsage, " / ")
		u, l := parseMem(t, used), parseMem(t, limit)
		t.Logf("%-13s %s", svc, st.MemUsage)
		if want, ok := limits[svc]; ok && l != want {
			t.Errorf("%s: memory limit %s, want compose.yaml's %d bytes", svc, limit, want)
		}
		if u >= l {
			t.Errorf("%s: uses %s of its %s", svc, used, limit)
		}
	}

	downed = true
	down()
	for what, args := range map[string][]string{
		"containers": {"ps", "-aq", "--filter", "label=com.docker.compose.project=" + c.project},
		"volumes":    {"volume", "ls", "-q", "--filter", "label=com.docker.compose.project=" + c.project},
		"networks":   {"network", "ls", "-q", "--filter", "label=com.docker.compose.project=" + c.project},
		"sandboxes":  {"ps", "-aq", "--filter", "label=execbox.executor=" + instance},
	} {
		if left := strings.TrimSpace(docker(t, args...)); left != "" {
			t.Errorf("after down, %s left: %s", what, left)
		}
	}
}

// firstREADMEExample is the README's first `<!-- example -->` shell command.
func firstREADMEExample(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- example -->\\s*```sh\\n(.*?)```").FindSubmatch(data)
	if m == nil {
		t.Fatal("README.md has no <!-- example --> shell block")
	}
	return string(m[1])
}

// parseMem reads docker's and compose's memory sizes: 48m, 12.3MiB, 1.5GiB.
func parseMem(t *testing.T, s string) int64 {
	t.Helper()
	m := regexp.MustCompile(`^([0-9.]+)\s*([a-zA-Z]*)$`).FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		t.Fatalf("memory size %q", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1e3, "kib": 1 << 10, "m": 1 << 20, "mb": 1e6, "mib": 1 << 20,
		"g": 1 << 30, "gb": 1e9, "gib": 1 << 30}[strings.ToLower(m[2])]
	if mult == 0 {
		t.Fatalf("memory unit in %q", s)
	}
	return int64(v * mult)
}
