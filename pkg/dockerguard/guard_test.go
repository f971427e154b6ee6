package dockerguard_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/dockerguard"
	"github.com/execbox/app/pkg/sandbox"
	"github.com/execbox/app/pkg/testenv"
)

type bundle struct {
	url      string         // the guard, http://127.0.0.1:PORT
	direct   *client.Client // the engine itself, for set-up and checks
	instance string
	image    string // a sandbox image present locally
	foreign  string // id of a container that is not the executor's
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// setup starts a guard against the real Docker Engine and creates a foreign
// container (no executor label, as the gateway's or PostgreSQL's would be).
func setup(t *testing.T) *bundle {
	t.Helper()
	dc := testenv.Docker(t)
	cat, err := catalog.Load(testenv.Runtimes(t))
	if err != nil {
		t.Fatal(err)
	}
	lang, ok := cat.Lookup("bash", "")
	if !ok {
		t.Fatal("no bash in the test catalog")
	}
	b := &bundle{direct: dc, instance: "guardtest-" + randHex(), image: lang.Image}
	pol := dockerguard.Policy{Instance: b.instance, Images: []string{lang.Image}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	g, err := dockerguard.New(pol, os.Getenv("DOCKER_HOST"), log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dockerguard.Serve(ctx, ln, g, log) }()
	t.Cleanup(func() {
		cancel()
		<-done
		g.Close()
	})
	b.url = "http://" + ln.Addr().String()

	cr, err := dc.ContainerCreate(context.Background(), &container.Config{
		Image: lang.Image, Cmd: []string{"sleep", "300"}, Env: []string{"POSTGRES_PASSWORD=secret"},
		Labels: map[string]string{"execbox.test": b.instance},
	}, &container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	b.foreign = cr.ID
	t.Cleanup(func() {
		_ = dc.ContainerRemove(context.Background(), cr.ID, container.RemoveOptions{Force: true})
	})
	return b
}

// do sends one raw request to the guard.
func (b *bundle) do(t *testing.T, method, path string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// TestAttacksAreRefused sends exactly the requests a compromised executor
// sent through the path-filtering socket proxy, and more of their kind:
// each gets 403 with a reason, and none has an effect.
func TestAttacksAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	evil := "evil-" + randHex()
	privileged := map[string]any{
		"Image": b.image, "Cmd": []string{"sh"}, "Labels": map[string]string{sandbox.LabelExecutor: b.instance},
		"HostConfig": map[string]any{"Privileged": true, "Binds": []string{"/:/host"}, "PidMode": "host", "NetworkMode": "host"},
	}
	cases := []struct {
		name, method, path string
		body               any
		reason             string
	}{
		{"privileged create with the host's / bound", "POST", "/v1.41/containers/create?name=" + evil, privileged, "privileged"},
		{"same, unversioned path", "POST", "/containers/create?name=" + evil, privileged, "binds are not allowed"},
		{"bind volume", "POST", "/v1.41/volumes/create", map[string]any{
			"Name": evil, "Driver": "local", "DriverOpts": map[string]string{"type": "none", "o": "bind", "device": "/"}}, "driver options"},
		{"bind volume named like the agent's", "POST", "/v1.41/volumes/create", map[string]any{
			"Name": dockerguard.AgentVolumePrefix + evil, "DriverOpts": map[string]string{"type": "none", "o": "bind", "device": "/"},
			"Labels": map[string]string{sandbox.LabelAgent: "1"}}, "driver options"},
		{"inspect a foreign container (its environment)", "GET", "/v1.41/containers/" + b.foreign + "/json", nil, "not a container of this executor"},
		{"inspect by short id", "GET", "/v1.41/containers/" + b.foreign[:12] + "/json", nil, "not a container of this executor"},
		{"archive read of a foreign container", "GET", "/v1.41/containers/" + b.foreign + "/archive?path=/etc", nil, "not an endpoint the executor uses"},
		{"archive write into a foreign container", "PUT", "/v1.41/containers/" + b.foreign + "/archive?path=/", nil, "not a container of this executor"},
		{"archive stat of a foreign container", "HEAD", "/v1.41/containers/" + b.foreign + "/archive?path=/etc/passwd", nil, ""},
		{"stats of a foreign container", "GET", "/v1.41/containers/" + b.foreign + "/stats?stream=0&one-shot=1", nil, "not a container of this executor"},
		{"stop a foreign container", "POST", "/v1.41/containers/" + b.foreign + "/stop", nil, "not a container of this executor"},
		{"kill a foreign container", "POST", "/v1.41/containers/" + b.foreign + "/kill", nil, "not a container of this executor"},
		{"start a foreign container", "POST", "/v1.41/containers/" + b.foreign + "/start", nil, "not a container of this executor"},
		{"attach to a foreign container", "POST", "/v1.41/containers/" + b.foreign + "/attach?stream=1&stdout=1", nil, "not a container of this executor"},
		{"remove a foreign container", "DELETE", "/v1.41/containers/" + b.foreign + "?force=1", nil, "not a container of this executor"},
		{"exec in a foreign container", "POST", "/v1.41/containers/" + b.foreign + "/exec", map[string]any{"Cmd": []string{"env"}}, "not an endpoint"},
		{"list every container", "GET", "/v1.41/containers/json?all=1", nil, "must filter on the label"},
		{"list with someone else's label", "GET", `/v1.41/containers/json?filters={"label":{"execbox.executor=other":true}}`, nil, "must filter on the label"},
		{"info", "GET", "/v1.41/info", nil, "not an endpoint"},
		{"build", "POST", "/v1.41/build", nil, "not an endpoint"},
		{"pull an image outside the catalog", "POST", "/v1.41/images/create?fromImage=alpine&tag=latest", nil, "only the catalog"},
		{"inspect a volume that is not an agent volume", "GET", "/v1.41/volumes/postgres-data", nil, "only agent volumes"},
		{"remove a volume that is not an agent volume", "DELETE", "/v1.41/volumes/postgres-data", nil, "only agent volumes"},
		{"list every volume", "GET", "/v1.41/volumes", nil, "must filter on the label"},
		{"networks", "POST", "/v1.41/networks/create", map[string]any{"Name": evil}, "not an endpoint"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := b.do(t, tc.method, tc.path, tc.body)
			if code != http.StatusForbidden {
				t.Fatalf("%s %s: %d %s, want 403", tc.method, tc.path, code, msg)
			}
			if tc.method != "HEAD" && !strings.Contains(msg, tc.reason) {
				t.Errorf("%s %s: reason %q lacks %q", tc.method, tc.path, msg, tc.reason)
			}
		})
	}
	// Nothing happened: no container or volume named evil, the foreign
	// container is still there and was never started.
	ctx := context.Background()
	if _, err := b.direct.ContainerInspect(ctx, evil); err == nil {
		t.Error("the privileged container was created")
	}
	for _, v := range []string{evil, dockerguard.AgentVolumePrefix + evil} {
		if _, err := b.direct.VolumeInspect(ctx, v); err == nil {
			t.Errorf("volume %s was created", v)
			_ = b.direct.VolumeRemove(ctx, v, true)
		}
	}
	ins, err := b.direct.ContainerInspect(ctx, b.foreign)
	if err != nil {
		t.Fatalf("the foreign container is gone: %v", err)
	}
	if ins.State.Running || ins.State.StartedAt != "0001-01-01T00:00:00Z" {
		t.Errorf("the foreign container was started: %+v", ins.State)
	}
}

// validSandbox is the shape pkg/sandbox creates (the sandbox tests run the
// real driver through the guard; this is the base the policy cases bend).
func validSandbox(image, instance string) *container.CreateRequest {
	pids := int64(128)
	return &container.CreateRequest{
		Config: &container.Config{
			Image: image, Entrypoint: []string{sandbox.AgentDir + "/app"}, Cmd: []string{"agent"}, User: "0:0",
			Labels: map[string]string{sandbox.LabelExecutor: instance}, NetworkDisabled: true, OpenStdin: true,
		},
		HostConfig: &container.HostConfig{
			NetworkMode: "none", ReadonlyRootfs: true, IpcMode: "none", CapDrop: []string{"ALL"},
			CapAdd: sandbox.SupervisorCaps(), SecurityOpt: sandbox.SecurityOpt(""),
			Tmpfs: map[string]string{"/box": "rw,size=1m", "/tmp": "rw,size=1m"},
			Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: dockerguard.AgentVolumePrefix + "abc", Target: sandbox.AgentDir, ReadOnly: true,
				VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
			Resources: container.Resources{Memory: 256 << 20, MemorySwap: 256 << 20, NanoCPUs: 1e9, PidsLimit: &pids,
				Ulimits: []*container.Ulimit{{Name: "core"}}},
			LogConfig: container.LogConfig{Type: "none"},
		},
	}
}

// TestPolicy bends one setting of a valid sandbox at a time: each bend is
// refused with a reason naming it.
func TestPolicy(t *testing.T) {
	t.Parallel()
	const img, inst = "execbox-local/debian:bookworm", "exec-1"
	pol := dockerguard.Policy{Instance: inst, Images: []string{img}, MaxMemoryBytes: 1 << 30, MaxPids: 256, MaxCPUs: 2}
	if err := pol.CheckCreate(validSandbox(img, inst)); err != nil {
		t.Fatalf("the valid sandbox is refused: %v", err)
	}
	yes := true
	cases := []struct {
		name   string
		bend   func(*container.CreateRequest)
		reason string
	}{
		{"privileged", func(r *container.CreateRequest) { r.HostConfig.Privileged = true }, "privileged"},
		{"bind of /", func(r *container.CreateRequest) { r.HostConfig.Binds = []string{"/:/host"} }, "binds"},
		{"bind mount", func(r *container.CreateRequest) {
			r.HostConfig.Mounts = append(r.HostConfig.Mounts, mount.Mount{Type: mount.TypeBind, Source: "/", Target: "/host"})
		}, "mounts"},
		{"agent volume writable", func(r *container.CreateRequest) { r.HostConfig.Mounts[0].ReadOnly = false }, "read-only"},
		{"another volume", func(r *container.CreateRequest) { r.HostConfig.Mounts[0].Source = "postgres-data" }, "only the agent volume"},
		{"anonymous volume", func(r *container.CreateRequest) { r.Config.Volumes = map[string]struct{}{"/data": {}} }, "anonymous volumes"},
		{"volumes from", func(r *container.CreateRequest) { r.HostConfig.VolumesFrom = []string{"postgres"} }, "volumes-from"},
		{"host network", func(r *container.CreateRequest) { r.HostConfig.NetworkMode = "host" }, "network mode"},
		{"networking on", func(r *container.CreateRequest) { r.Config.NetworkDisabled = false }, "networking must be disabled"},
		{"writable root", func(r *container.CreateRequest) { r.HostConfig.ReadonlyRootfs = false }, "read-only"},
		{"caps kept", func(r *container.CreateRequest) { r.HostConfig.CapDrop = nil }, "drop ALL"},
		{"SYS_ADMIN", func(r *container.CreateRequest) { r.HostConfig.CapAdd = append(r.HostConfig.CapAdd, "CAP_SYS_ADMIN") }, "CAP_SYS_ADMIN"},
		{"new privileges", func(r *container.CreateRequest) { r.HostConfig.SecurityOpt = r.HostConfig.SecurityOpt[1:] }, "no-new-privileges"},
		{"seccomp unconfined", func(r *container.CreateRequest) {
			r.HostConfig.SecurityOpt = []string{"no-new-privileges", "seccomp=unconfined"}
		}, "seccomp=unconfined"},
		{"gVisor's profile under runc", func(r *container.CreateRequest) {
			r.HostConfig.SecurityOpt = sandbox.SecurityOpt("runsc") // clone3 allowed
		}, "seccomp"},
		{"apparmor unconfined", func(r *container.CreateRequest) {
			r.HostConfig.SecurityOpt = append(r.HostConfig.SecurityOpt, "apparmor=unconfined")
		}, "apparmor"},
		{"host pid", func(r *container.CreateRequest) { r.HostConfig.PidMode = "host" }, "namespaces"},
		{"host ipc", func(r *container.CreateRequest) { r.HostConfig.IpcMode = "host" }, "ipc mode"},
		{"host uts", func(r *container.CreateRequest) { r.HostConfig.UTSMode = "host" }, "namespaces"},
		{"host userns", func(r *container.CreateRequest) { r.HostConfig.UsernsMode = "host" }, "namespaces"},
		{"host cgroupns", func(r *container.CreateRequest) { r.HostConfig.CgroupnsMode = "host" }, "namespaces"},
		{"devices", func(r *container.CreateRequest) {
			r.HostConfig.Devices = []container.DeviceMapping{{PathOnHost: "/dev/kvm", PathInContainer: "/dev/kvm"}}
		}, "devices"},
		{"sysctls", func(r *container.CreateRequest) {
			r.HostConfig.Sysctls = map[string]string{"kernel.shm_rmid_forced": "1"}
		}, "sysctls"},
		{"unmasked /proc", func(r *container.CreateRequest) { r.HostConfig.MaskedPaths = []string{} }, "masked"},
		{"other runtime", func(r *container.CreateRequest) { r.HostConfig.Runtime = "io.containerd.runc.v2" }, "runtime"},
		{"no label", func(r *container.CreateRequest) { r.Config.Labels = nil }, "label"},
		{"foreign label", func(r *container.CreateRequest) { r.Config.Labels[sandbox.LabelExecutor] = "exec-2" }, "label"},
		{"other image", func(r *container.CreateRequest) { r.Config.Image = "alpine" }, "image"},
		{"other entrypoint", func(r *container.CreateRequest) { r.Config.Entrypoint = []string{"/bin/sh"} }, "entrypoint"},
		{"other command", func(r *container.CreateRequest) { r.Config.Cmd = []string{"sh", "-c", "id"} }, "cmd"},
		{"memory over the maximum", func(r *container.CreateRequest) {
			r.HostConfig.Memory, r.HostConfig.MemorySwap = 2<<30, 2<<30
		}, "memory"},
		{"no memory limit", func(r *container.CreateRequest) { r.HostConfig.Memory, r.HostConfig.MemorySwap = 0, 0 }, "memory"},
		{"swap", func(r *container.CreateRequest) { r.HostConfig.MemorySwap = -1 }, "swap"},
		{"no pids limit", func(r *container.CreateRequest) { r.HostConfig.PidsLimit = nil }, "pids"},
		{"pids over the maximum", func(r *container.CreateRequest) { n := int64(100000); r.HostConfig.PidsLimit = &n }, "pids"},
		{"CPUs over the maximum", func(r *container.CreateRequest) { r.HostConfig.NanoCPUs = 8e9 }, "CPUs"},
		{"cgroup parent", func(r *container.CreateRequest) { r.HostConfig.CgroupParent = "/" }, "cgroup"},
		{"OOM killer off", func(r *container.CreateRequest) { r.HostConfig.OomKillDisable = &yes }, "OOM"},
		{"log driver", func(r *container.CreateRequest) { r.HostConfig.LogConfig.Type = "syslog" }, "log driver"},
		{"restart always", func(r *container.CreateRequest) { r.HostConfig.RestartPolicy.Name = "always" }, "restart"},
		{"tmpfs elsewhere", func(r *container.CreateRequest) { r.HostConfig.Tmpfs["/etc"] = "rw" }, "tmpfs"},
		{"ports", func(r *container.CreateRequest) { r.HostConfig.PublishAllPorts = true }, "ports"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := validSandbox(img, inst)
			tc.bend(req)
			err := pol.CheckCreate(req)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("reason %q lacks %q", err, tc.reason)
			}
		})
	}
	// The helper that fills the agent volume may mount it read-write.
	helper := validSandbox(img, inst)
	helper.Config.Cmd = []string{"version"}
	helper.HostConfig.Mounts[0].ReadOnly = false
	if err := pol.CheckCreate(helper); err != nil {
		t.Errorf("the agent volume's helper is refused: %v", err)
	}
}

// TestUnknownFieldsAreRefused: a field the guard's types do not know could
// mean something to the engine, so the body is refused rather than passed on.
func TestUnknownFieldsAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := map[string]any{"Image": b.image, "HostConfig": map[string]any{"NoSuchField": true}}
	code, msg := b.do(t, "POST", "/v1.41/containers/create", body)
	if code != http.StatusForbidden || !strings.Contains(msg, "unknown field") {
		t.Fatalf("%d %s, want 403 naming the unknown field", code, msg)
	}
}

// TestAgentVolumeFillPasses walks, through the guard and against the real
// engine, the calls that fill the agent volume: create the volume, create
// the helper that mounts it read-write, stat and upload the binary. Starting
// the helper is refused: only read-only sandboxes start.
func TestAgentVolumeFillPasses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	gc, err := client.NewClientWithOpts(client.WithHost("tcp"+strings.TrimPrefix(b.url, "http")), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()
	ctx := context.Background()
	vol := dockerguard.AgentVolumePrefix + "test-" + randHex()
	if _, err := gc.VolumeCreate(ctx, volume.CreateOptions{Name: vol, Labels: map[string]string{sandbox.LabelAgent: "1"}}); err != nil {
		t.Fatalf("volume create: %v", err)
	}
	t.Cleanup(func() { _ = b.direct.VolumeRemove(context.Background(), vol, true) })
	req := validSandbox(b.image, b.instance)
	req.Config.Cmd = []string{"version"}
	req.HostConfig.Mounts[0].Source = vol
	req.HostConfig.Mounts[0].ReadOnly = false
	cr, err := gc.ContainerCreate(ctx, req.Config, req.HostConfig, nil, nil, "")
	if err != nil {
		t.Fatalf("helper create: %v", err)
	}
	t.Cleanup(func() {
		_ = b.direct.ContainerRemove(context.Background(), cr.ID, container.RemoveOptions{Force: true})
	})
	if _, err := gc.ContainerStatPath(ctx, cr.ID, sandbox.AgentDir+"/app"); err == nil || !cerrdefs.IsNotFound(err) {
		t.Errorf("stat of the empty volume: %v, want not found", err)
	}
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	_ = tw.WriteHeader(&tar.Header{Name: "app", Mode: 0o755, Size: 2, Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte("hi"))
	_ = tw.Close()
	if err := gc.CopyToContainer(ctx, cr.ID, sandbox.AgentDir, &tb, container.CopyToContainerOptions{}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if st, err := gc.ContainerStatPath(ctx, cr.ID, sandbox.AgentDir+"/app"); err != nil || st.Size != 2 {
		t.Errorf("stat after upload: %+v, %v", st, err)
	}
	if err := gc.ContainerStart(ctx, cr.ID, container.StartOptions{}); err == nil || !strings.Contains(err.Error(), "read-write") {
		t.Errorf("helper start: %v, want refused for its read-write mount", err)
	}
	if err := gc.ContainerRemove(ctx, cr.ID, container.RemoveOptions{Force: true}); err != nil {
		t.Errorf("helper remove: %v", err)
	}
	if err := gc.VolumeRemove(ctx, vol, false); err != nil {
		t.Errorf("volume remove: %v", err)
	}
}
