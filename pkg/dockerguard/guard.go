// Package dockerguard is the Docker Engine API guard that stands between the
// executor and the Docker socket (`app docker-guard`). A path-filtering proxy
// lets whoever controls the executor create a privileged container with the
// host's / bind-mounted; the guard instead forwards only the endpoints and
// methods the executor uses (pkg/sandbox), checks every container create
// against the sandbox policy (policy.go), and lets the per-container
// endpoints (inspect, attach, wait, stats, start, stop, kill, remove, archive) touch
// only containers that carry this executor's label, which it looks up itself.
// Everything else is refused with 403 and a reason.
package dockerguard

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/sandbox"
)

// MaxCreateBody bounds a container or volume create body (the inline
// seccomp profile is most of it).
const MaxCreateBody = 1 << 20

// Guard is an http.Handler that forwards allowed Docker Engine API requests
// to the engine.
type Guard struct {
	pol    Policy
	log    *slog.Logger
	docker *client.Client // the guard's own lookups
	dial   func(ctx context.Context) (net.Conn, error)
	proxy  *httputil.ReverseProxy
}

// New builds a guard forwarding to the engine at dockerHost (unix:// or
// tcp://; empty: the local socket).
func New(pol Policy, dockerHost string, log *slog.Logger) (*Guard, error) {
	if err := pol.setDefaults(); err != nil {
		return nil, err
	}
	if dockerHost == "" {
		dockerHost = client.DefaultDockerHost
	}
	u, err := url.Parse(dockerHost)
	if err != nil {
		return nil, fmt.Errorf("docker-guard: docker host %q: %w", dockerHost, err)
	}
	var network, addr string
	switch u.Scheme {
	case "unix":
		network, addr = "unix", u.Path
	case "tcp":
		network, addr = "tcp", u.Host
	default:
		return nil, fmt.Errorf("docker-guard: docker host %q: want unix:// or tcp://", dockerHost)
	}
	var d net.Dialer
	dial := func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, network, addr) }
	dc, err := client.NewClientWithOpts(client.WithHost(dockerHost), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker-guard: docker client: %w", err)
	}
	g := &Guard{pol: pol, log: log, docker: dc, dial: dial}
	tr := &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
		MaxIdleConns:        16,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "docker"
			pr.Out.Host = "docker"
		},
		Transport:     tr,
		FlushInterval: -1, // wait, pull progress: stream as they come
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			g.log.Warn("docker-guard: engine unreachable", "method", r.Method, "path", r.URL.Path, "err", err)
			writeError(w, http.StatusBadGateway, "docker-guard: Docker Engine: "+err.Error())
		},
	}
	return g, nil
}

// Close releases the guard's Docker client.
func (g *Guard) Close() error { return g.docker.Close() }

// Ping checks the engine answers (the guard's readiness).
func (g *Guard) Ping(ctx context.Context) error {
	_, err := g.docker.Ping(ctx)
	return err
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+(\.[0-9]+)?/`)

// route is one allowed endpoint.
type route struct {
	method string
	re     *regexp.Regexp
	handle func(g *Guard, w http.ResponseWriter, r *http.Request, m []string)
}

var idRe = `([A-Za-z0-9][A-Za-z0-9_.-]*)`

var routes = []route{
	{"GET", regexp.MustCompile(`^/_ping$`), forward},
	{"HEAD", regexp.MustCompile(`^/_ping$`), forward},
	{"GET", regexp.MustCompile(`^/version$`), forward},
	{"POST", regexp.MustCompile(`^/containers/create$`), (*Guard).containerCreate},
	{"GET", regexp.MustCompile(`^/containers/json$`), (*Guard).containerList},
	{"GET", regexp.MustCompile(`^/containers/` + idRe + `/json$`), (*Guard).ownedContainer},
	{"POST", regexp.MustCompile(`^/containers/` + idRe + `/attach$`), (*Guard).containerAttach},
	{"POST", regexp.MustCompile(`^/containers/` + idRe + `/start$`), (*Guard).containerStart},
	{"POST", regexp.MustCompile(`^/containers/` + idRe + `/wait$`), (*Guard).ownedContainer},
	{"GET", regexp.MustCompile(`^/containers/` + idRe + `/stats$`), (*Guard).ownedContainer},
	{"POST", regexp.MustCompile(`^/containers/` + idRe + `/stop$`), (*Guard).ownedContainer},
	{"POST", regexp.MustCompile(`^/containers/` + idRe + `/kill$`), (*Guard).ownedContainer},
	{"DELETE", regexp.MustCompile(`^/containers/` + idRe + `$`), (*Guard).ownedContainer},
	{"HEAD", regexp.MustCompile(`^/containers/` + idRe + `/archive$`), (*Guard).archive},
	{"PUT", regexp.MustCompile(`^/containers/` + idRe + `/archive$`), (*Guard).archive},
	{"POST", regexp.MustCompile(`^/volumes/create$`), (*Guard).volumeCreate},
	{"GET", regexp.MustCompile(`^/volumes$`), (*Guard).volumeList},
	{"GET", regexp.MustCompile(`^/volumes/` + idRe + `$`), (*Guard).agentVolume},
	{"DELETE", regexp.MustCompile(`^/volumes/` + idRe + `$`), (*Guard).agentVolume},
	{"GET", regexp.MustCompile(`^/images/(.+)/json$`), (*Guard).image},
	{"POST", regexp.MustCompile(`^/images/create$`), (*Guard).imagePull},
}

func forward(g *Guard, w http.ResponseWriter, r *http.Request, _ []string) { g.proxy.ServeHTTP(w, r) }

// ServeHTTP routes a request to its check, or refuses it.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if loc := versionPrefix.FindStringIndex(path); loc != nil {
		path = path[loc[1]-1:]
	}
	for _, rt := range routes {
		if m := rt.re.FindStringSubmatch(path); m != nil {
			if r.Method != rt.method {
				continue
			}
			rt.handle(g, w, r, m)
			return
		}
	}
	g.refuse(w, r, fmt.Sprintf("%s %s is not an endpoint the executor uses", r.Method, path))
}

func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, reason string) {
	g.log.Warn("docker-guard: refused", "method", r.Method, "path", r.URL.Path, "reason", reason)
	writeError(w, http.StatusForbidden, "docker-guard: "+reason)
}

// writeError answers in the engine's error shape, so Docker clients show the
// message.
func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// readBody reads a bounded request body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxCreateBody+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > MaxCreateBody {
		return nil, fmt.Errorf("body larger than %d bytes", MaxCreateBody)
	}
	return b, nil
}

// withBody replaces the request body with b (what was checked is what is
// forwarded).
func withBody(r *http.Request, b []byte) {
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", fmt.Sprint(len(b)))
	r.Header.Set("Content-Type", "application/json")
}

func (g *Guard) containerCreate(w http.ResponseWriter, r *http.Request, _ []string) {
	b, err := readBody(r)
	if err != nil {
		g.refuse(w, r, err.Error())
		return
	}
	var req container.CreateRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		g.refuse(w, r, "container create body: "+err.Error())
		return
	}
	if err := g.pol.CheckCreate(&req); err != nil {
		g.refuse(w, r, "container create: "+err.Error())
		return
	}
	out, err := json.Marshal(req)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	withBody(r, out)
	g.proxy.ServeHTTP(w, r)
}

func (g *Guard) containerList(w http.ResponseWriter, r *http.Request, _ []string) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		g.refuse(w, r, "filters: "+err.Error())
		return
	}
	// Label filters are ANDed by the engine: with this one, only the
	// executor's own containers are listed.
	labels := f.Get("label")
	if !slices.Contains(labels, g.pol.ownerLabel()) && !(g.pol.Instance == "" && hasLabelKey(f, sandbox.LabelExecutor)) {
		g.refuse(w, r, "container list must filter on the label "+g.pol.ownerLabel())
		return
	}
	g.proxy.ServeHTTP(w, r)
}

func hasLabelKey(f filters.Args, key string) bool {
	for _, v := range f.Get("label") {
		if v == key || strings.HasPrefix(v, key+"=") {
			return true
		}
	}
	return false
}

// owned looks the container up and checks it carries this executor's label.
// It returns the full id, which the forwarded request then names (a name
// could be pointed at another container between the check and the call).
func (g *Guard) owned(ctx context.Context, ref string) (container.InspectResponse, error) {
	ins, err := g.docker.ContainerInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return ins, errNotOwned
		}
		return ins, err
	}
	if ins.Config == nil || !g.pol.ownerOK(ins.Config.Labels) {
		return ins, errNotOwned
	}
	return ins, nil
}

var errNotOwned = errors.New("not a container of this executor")

// ownedRequest checks ownership and rewrites the path to the full id; it
// answers and returns false when the request may not go on.
func (g *Guard) ownedRequest(w http.ResponseWriter, r *http.Request, ref string) (container.InspectResponse, bool) {
	ins, err := g.owned(r.Context(), ref)
	if err != nil {
		if errors.Is(err, errNotOwned) {
			g.refuse(w, r, fmt.Sprintf("container %s: %v", ref, err))
		} else {
			writeError(w, http.StatusBadGateway, "docker-guard: inspect "+ref+": "+err.Error())
		}
		return ins, false
	}
	r.URL.Path = strings.Replace(r.URL.Path, "/containers/"+ref, "/containers/"+ins.ID, 1)
	r.URL.RawPath = ""
	return ins, true
}

func (g *Guard) ownedContainer(w http.ResponseWriter, r *http.Request, m []string) {
	if _, ok := g.ownedRequest(w, r, m[1]); ok {
		g.proxy.ServeHTTP(w, r)
	}
}

// containerStart starts only a sandbox: a container whose agent volume is
// mounted read-only (the helper that fills the volume is never started).
func (g *Guard) containerStart(w http.ResponseWriter, r *http.Request, m []string) {
	ins, ok := g.ownedRequest(w, r, m[1])
	if !ok {
		return
	}
	for _, mt := range ins.Mounts {
		if mt.RW {
			g.refuse(w, r, fmt.Sprintf("container %s mounts %s read-write: only sandboxes (read-only agent volume) may start", m[1], mt.Destination))
			return
		}
	}
	if ins.HostConfig == nil || ins.HostConfig.Privileged || !ins.HostConfig.ReadonlyRootfs {
		g.refuse(w, r, "container "+m[1]+" is not a sandbox")
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// archive allows only what filling the agent volume needs: a stat of the
// agent binary and an upload into the agent directory of a helper that is
// not running.
func (g *Guard) archive(w http.ResponseWriter, r *http.Request, m []string) {
	ins, ok := g.ownedRequest(w, r, m[1])
	if !ok {
		return
	}
	p := r.URL.Query().Get("path")
	want := sandbox.AgentDir
	if r.Method == http.MethodHead {
		want = sandbox.AgentDir + "/app"
	}
	if p != want {
		g.refuse(w, r, fmt.Sprintf("archive path %q: only %s", p, want))
		return
	}
	if ins.State != nil && ins.State.Running {
		g.refuse(w, r, "archive: container "+m[1]+" is running")
		return
	}
	g.proxy.ServeHTTP(w, r)
}

func (g *Guard) volumeCreate(w http.ResponseWriter, r *http.Request, _ []string) {
	b, err := readBody(r)
	if err != nil {
		g.refuse(w, r, err.Error())
		return
	}
	var req struct {
		Name       string
		Driver     string
		DriverOpts map[string]string
		Labels     map[string]string
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		g.refuse(w, r, "volume create body: "+err.Error())
		return
	}
	if err := g.pol.CheckVolume(req.Name, req.Driver, req.DriverOpts, req.Labels); err != nil {
		g.refuse(w, r, "volume create: "+err.Error())
		return
	}
	out, _ := json.Marshal(req)
	withBody(r, out)
	g.proxy.ServeHTTP(w, r)
}

func (g *Guard) volumeList(w http.ResponseWriter, r *http.Request, _ []string) {
	f, err := filters.FromJSON(r.URL.Query().Get("filters"))
	if err != nil {
		g.refuse(w, r, "filters: "+err.Error())
		return
	}
	if !hasLabelKey(f, sandbox.LabelAgent) {
		g.refuse(w, r, "volume list must filter on the label "+sandbox.LabelAgent)
		return
	}
	g.proxy.ServeHTTP(w, r)
}

func (g *Guard) agentVolume(w http.ResponseWriter, r *http.Request, m []string) {
	if !strings.HasPrefix(m[1], AgentVolumePrefix) {
		g.refuse(w, r, fmt.Sprintf("volume %s: only agent volumes (%s*)", m[1], AgentVolumePrefix))
		return
	}
	g.proxy.ServeHTTP(w, r)
}

func (g *Guard) image(w http.ResponseWriter, r *http.Request, m []string) {
	ref, err := url.PathUnescape(m[1])
	if err != nil || !g.pol.imageOK(ref) {
		g.refuse(w, r, fmt.Sprintf("image %s is not a sandbox image", m[1]))
		return
	}
	g.proxy.ServeHTTP(w, r)
}

func (g *Guard) imagePull(w http.ResponseWriter, r *http.Request, _ []string) {
	q := r.URL.Query()
	ref := q.Get("fromImage")
	if t := q.Get("tag"); t != "" {
		if strings.HasPrefix(t, "sha256:") {
			ref += "@" + t
		} else {
			ref += ":" + t
		}
	}
	if q.Get("fromSrc") != "" || q.Get("repo") != "" || !g.pol.imageOK(ref) {
		g.refuse(w, r, fmt.Sprintf("image pull %s: only the catalog's sandbox images", ref))
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// containerAttach proxies the attach stream. The engine answers 101 and the
// connection becomes a raw bidirectional stream; the executor half-closes its
// side after sending the job (the agent reads stdin to EOF), so each
// direction is copied on its own and an EOF is passed on as a half-close,
// never as a close of both.
func (g *Guard) containerAttach(w http.ResponseWriter, r *http.Request, m []string) {
	if _, ok := g.ownedRequest(w, r, m[1]); !ok {
		return
	}
	if !strings.EqualFold(r.Header.Get("Upgrade"), "tcp") {
		g.proxy.ServeHTTP(w, r)
		return
	}
	backend, err := g.dial(r.Context())
	if err != nil {
		writeError(w, http.StatusBadGateway, "docker-guard: Docker Engine: "+err.Error())
		return
	}
	out := r.Clone(context.WithoutCancel(r.Context()))
	out.URL.Scheme, out.URL.Host, out.Host = "", "", "docker"
	out.RequestURI = ""
	out.Header.Set("Connection", "Upgrade")
	out.Header.Set("Upgrade", "tcp")
	if err := out.Write(backend); err != nil {
		backend.Close()
		writeError(w, http.StatusBadGateway, "docker-guard: attach: "+err.Error())
		return
	}
	br := bufio.NewReader(backend)
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		backend.Close()
		writeError(w, http.StatusBadGateway, "docker-guard: attach: "+err.Error())
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer backend.Close()
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		return
	}
	conn, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		backend.Close()
		writeError(w, http.StatusInternalServerError, "docker-guard: attach: "+err.Error())
		return
	}
	_ = conn.SetDeadline(time.Time{})
	if err := resp.Write(conn); err != nil {
		conn.Close()
		backend.Close()
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // client -> engine: the job on the agent's stdin
		defer wg.Done()
		if n := cbuf.Reader.Buffered(); n > 0 {
			b, _ := cbuf.Reader.Peek(n)
			_, _ = backend.Write(b)
		}
		_, _ = io.Copy(backend, conn)
		closeWrite(backend)
	}()
	go func() { // engine -> client: the agent's stdout and stderr
		defer wg.Done()
		_, _ = io.Copy(conn, br)
		closeWrite(conn)
	}()
	wg.Wait()
	conn.Close()
	backend.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// Serve serves the guard on ln until ctx ends, then shuts down (open
// attach streams are cut after a grace period).
func Serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
