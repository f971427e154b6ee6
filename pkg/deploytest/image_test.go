package deploytest

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/execbox/app/pkg/testenv"
)

// instruction is one Containerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, COPY, USER, ...
	Args string // the rest of the line
}

// parseContainerfile splits a Containerfile into stages (each starting with
// its FROM instruction). Comments and blank lines are dropped.
func parseContainerfile(data string) [][]instruction {
	var stages [][]instruction
	var cur strings.Builder
	flush := func() {
		line := strings.TrimSpace(cur.String())
		cur.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args)}
		if in.Cmd == "FROM" || len(stages) == 0 {
			stages = append(stages, nil)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	for _, line := range strings.Split(data, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") && cur.Len() == 0 {
			continue
		}
		if strings.HasPrefix(trimmed, "#") { // comment inside a continuation
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSpace(strings.TrimSuffix(trimmed, "\\")) + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func TestParseContainerfile(t *testing.T) {
	t.Parallel()
	stages := parseContainerfile("# c\nFROM a AS b\nRUN x \\\n  # inner\n  y\n\nFROM scratch\nCOPY --from=b /o /app\nUSER 1:1\n")
	want := "[[{FROM a AS b} {RUN x y}] [{FROM scratch} {COPY --from=b /o /app} {USER 1:1}]]"
	if got := fmt.Sprint(stages); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// finalStageDockerfile rewrites the Containerfile's final stage so that it
// needs neither the build stage nor a registry: the COPY --from=... of the
// entry point binary becomes a COPY of binName from the build context.
func finalStageDockerfile(t *testing.T, stage []instruction, binName string) (dockerfile, entrypoint string) {
	t.Helper()
	if len(stage) == 0 || stage[0].Cmd != "FROM" || strings.Fields(stage[0].Args)[0] != "scratch" {
		t.Fatalf("the Containerfile's final stage must be FROM scratch, it is %v", stage[0])
	}
	for _, in := range stage {
		if in.Cmd == "ENTRYPOINT" {
			var ep []string
			if err := json.Unmarshal([]byte(in.Args), &ep); err != nil || len(ep) == 0 {
				t.Fatalf("ENTRYPOINT %s: want the exec (JSON) form, no shell: %v", in.Args, err)
			}
			entrypoint = ep[0]
		}
	}
	if entrypoint == "" {
		t.Fatal("the final stage has no ENTRYPOINT")
	}
	var b strings.Builder
	copied := false
	for _, in := range stage {
		line := in.Cmd + " " + in.Args
		if in.Cmd == "COPY" && strings.Contains(in.Args, "--from=") {
			f := strings.Fields(in.Args)
			var flags []string
			for _, x := range f[:len(f)-2] {
				if strings.HasPrefix(x, "--") && !strings.HasPrefix(x, "--from=") {
					flags = append(flags, x)
				}
			}
			dst := f[len(f)-1]
			if dst != entrypoint {
				t.Fatalf("final stage %q copies something other than the entry point %s; teach this test about it", line, entrypoint)
			}
			line = strings.Join(append(append([]string{"COPY"}, flags...), binName, dst), " ")
			copied = true
		}
		b.WriteString(line + "\n")
	}
	if !copied {
		t.Fatalf("the final stage does not COPY --from=... the binary to %s", entrypoint)
	}
	return b.String(), entrypoint
}

// dockerOwned reports whether Docker adds name to every container
// (/.dockerenv, /etc/hosts, /dev/console, ...).
func dockerOwned(name string) bool {
	for _, p := range []string{"/dev/", "/proc/", "/sys/", "/etc/"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return name == "/.dockerenv"
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// TestImage builds the image the Containerfile describes, around a locally
// built binary, and checks it the way the design promises: nothing but the
// binary, no shell, a non-root user, a working entry point and health check.
func TestImage(t *testing.T) {
	t.Parallel()
	testenv.Docker(t) // fails with the setup hint when Docker is down
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tag := "execbox-deploytest/app:" + hex.EncodeToString(rnd[:])
	entrypoint := buildAppImage(t, tag)

	// Config: non-root user, exec-form entry point, a health check that uses
	// the binary (there is no shell for CMD-SHELL).
	var inspect []struct {
		Size   int64
		Config struct {
			User        string
			Entrypoint  []string
			Healthcheck *struct{ Test []string }
		}
	}
	if err := json.Unmarshal([]byte(docker(t, "image", "inspect", tag)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	cfg := inspect[0].Config
	user, _, _ := strings.Cut(cfg.User, ":")
	if user == "" || user == "0" || user == "root" {
		t.Errorf("image user %q: want a non-root user", cfg.User)
	}
	if len(cfg.Entrypoint) != 1 || cfg.Entrypoint[0] != entrypoint {
		t.Errorf("entrypoint %q, want [%s]", cfg.Entrypoint, entrypoint)
	}
	if hc := cfg.Healthcheck; hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != entrypoint || hc.Test[2] != "healthcheck" {
		t.Errorf("healthcheck %+v, want [CMD %s healthcheck ...]", hc, entrypoint)
	}
	t.Logf("image size %.1f MB (binary built without -s -w; release build is smaller)", float64(inspect[0].Size)/1e6)

	// File system: the binary and nothing to run besides it.
	cid := strings.TrimSpace(docker(t, "create", tag))
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", cid).Run() })
	export := exec.Command("docker", "export", cid)
	out, err := export.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := export.Start(); err != nil {
		t.Fatal(err)
	}
	var files []string
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("docker export: %v", err)
		}
		name := "/" + strings.TrimPrefix(path.Clean(h.Name), "/")
		switch base := path.Base(name); {
		case base == "sh" || base == "bash" || base == "busybox" || base == "ash":
			t.Errorf("image contains a shell: %s", name)
		case h.Typeflag == tar.TypeDir, name == entrypoint, dockerOwned(name):
		default:
			files = append(files, name)
		}
		if name == entrypoint && h.Mode&0o001 == 0 {
			t.Errorf("%s is not executable by others (mode %o): the non-root user cannot run it", name, h.Mode)
		}
	}
	if err := export.Wait(); err != nil {
		t.Fatalf("docker export: %v", err)
	}
	if len(files) > 0 {
		t.Errorf("image holds files besides %s: %v", entrypoint, files)
	}

	// The entry point runs as the image's user, without network.
	v := strings.TrimSpace(docker(t, "run", "--rm", "--network", "none", tag, "version"))
	if !strings.Contains(v, "execbox") {
		t.Errorf("`%s version` printed %q, want a line naming execbox and its version", entrypoint, v)
	}
	t.Logf("version: %s", v)
}

// buildAppImage builds the Containerfile's final stage around a locally
// built binary as tag (removed when the test ends) and returns the image's
// entry point.
func buildAppImage(t *testing.T, tag string) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	src, err := os.ReadFile(filepath.Join(root, "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := parseContainerfile(string(src))
	if len(stages) < 2 {
		t.Fatalf("Containerfile has %d stages, want a build stage and a final one", len(stages))
	}
	dockerfile, entrypoint := finalStageDockerfile(t, stages[len(stages)-1], "app.bin")

	bin := testenv.BuildBinary(t)
	ctxDir := t.TempDir()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "app.bin"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rmi", "-f", tag).CombinedOutput(); err != nil {
			t.Errorf("docker rmi %s: %v\n%s", tag, err, out)
		}
	})
	docker(t, "build", "-q", "-t", tag, ctxDir)
	return entrypoint
}
