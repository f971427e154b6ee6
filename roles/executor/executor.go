// Package executor is the executor role: it runs jobs in hardened Docker
// sandboxes (pkg/sandbox) and serves them to workers over its internal HTTP
// API under /executor/v1:
//
//	POST /executor/v1/run          run a job.Job synchronously, answer its job.Result
//	                               (429 code "busy" + Retry-After when every slot is taken)
//	                               (with Accept: application/x-ndjson: live, see executorhttp/live.go)
//	POST /executor/v1/input/{id}   stdin or a signal for a running interactive job
//	POST /executor/v1/cancel/{id}  kill the running job with that id (204)
//	GET  /executor/v1/capacity     executor.Capacity
//	GET  /executor/v1/languages    configured languages, image present or not, warm pool
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/docker/docker/client"

	"github.com/execbox/app/pkg/catalog"
	"github.com/execbox/app/pkg/executor"
	"github.com/execbox/app/pkg/executor/executorhttp"
	"github.com/execbox/app/pkg/flagenv"
	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/job"
	"github.com/execbox/app/pkg/registry"
	"github.com/execbox/app/pkg/role"
	"github.com/execbox/app/pkg/sandbox"
)

// Config configures the executor role.
type Config struct {
	Addr string
	// HTTP bounds what clients can hold of the role's HTTP server.
	HTTP httpx.Limits
	// DockerHost overrides DOCKER_HOST when set.
	DockerHost string
	// InternalToken guards /executor/v1 (bearer token); empty leaves it open, which
	// Run allows only on loopback or with InsecureNoToken.
	InternalToken string
	// InsecureNoToken serves the internal API open on a non-loopback
	// address anyway (role.InternalAPI.AllowOpen).
	InsecureNoToken bool
	// RuntimesFile replaces or extends the embedded language catalog.
	RuntimesFile string
	// Catalog, when set, is the language catalog and RuntimesFile is not
	// read (app all parses the file once for the executor and the gateway).
	Catalog *catalog.Catalog
	// Sandbox configures the Docker sandbox driver (slots, warm pool,
	// runtime, sizes, limits); its Catalog is set from the fields above.
	Sandbox sandbox.Config
	// Registry, when its URL is set, is where the executor announces
	// itself (AnnounceURL, capacity, languages, health) every AnnounceTTL/3.
	Registry registry.Config
	// AnnounceURL is the URL workers reach this executor's internal API at.
	AnnounceURL string
	// AnnounceTTL is how long one announcement lives: an executor that dies
	// drops out of the workers' choice after at most that long.
	AnnounceTTL time.Duration
}

// DefaultPort is the executor role's listen port.
const DefaultPort = executorhttp.DefaultPort

// DefaultConfig returns the defaults the flags show.
func DefaultConfig() Config {
	return Config{Sandbox: sandbox.DefaultConfig(), AnnounceTTL: registry.DefaultTTL}
}

// RegisterFlags binds the executor's tunables (app all binds them too).
func (c *Config) RegisterFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.String(&c.DockerHost, "docker-host", "DOCKER_HOST", d.DockerHost, "Docker Engine address (default: the local socket)")
	catalog.RegisterFlags(fs, &c.RuntimesFile)
	c.Sandbox.RegisterFlags(fs)
}

// RegisterProcessFlags binds what only the executor's own process has.
func (c *Config) RegisterProcessFlags(fs *flagenv.Set) {
	d := DefaultConfig()
	fs.Secret(&c.InternalToken, "internal-token", "EXECBOX_INTERNAL_TOKEN", d.InternalToken, "bearer token guarding /executor/v1 (required unless it listens on loopback)")
	fs.Bool(&c.InsecureNoToken, "insecure-no-token", "EXECBOX_INSECURE_NO_TOKEN", d.InsecureNoToken, "serve /executor/v1 without a token on a non-loopback address (anyone who reaches it can forge results and run code)")
	c.Registry.RegisterFlags(fs, "when set, the executor announces itself there and workers find it (needs --announce-url)")
	fs.String(&c.AnnounceURL, "announce-url", "EXECBOX_ANNOUNCE_URL", d.AnnounceURL, "URL workers reach this executor at, announced in the registry (e.g. http://10.0.0.5:8088)")
	fs.Duration(&c.AnnounceTTL, "announce-ttl", "EXECBOX_ANNOUNCE_TTL", d.AnnounceTTL, "lifetime of one announcement (renewed every third of it): a dead executor drops out after it")
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Registry.Validate(); err != nil {
		return err
	}
	if c.Registry.URL != "" {
		e := registry.Entry{Name: "x", URL: c.AnnounceURL}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("--announce-url %q: the URL workers reach this executor at (http:// or https://) is required with --registry-url", c.AnnounceURL)
		}
	}
	if c.AnnounceTTL < 0 {
		return errors.New("--announce-ttl must not be negative")
	}
	return c.Sandbox.Validate()
}

// Role is the executor role.
type Role struct {
	cfg      Config
	log      *slog.Logger
	docker   *client.Client
	driver   *sandbox.Driver
	reg      *registry.Registry // nil: not announced
	closeReg func()
}

// New builds the role; it does not contact Docker yet.
func New(cfg Config, log *slog.Logger) (*Role, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	cat := cfg.Catalog
	if cat == nil {
		c, err := catalog.LoadOrDefault(cfg.RuntimesFile)
		if err != nil {
			return nil, fmt.Errorf("executor: %w", err)
		}
		cat = c
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if cfg.DockerHost != "" {
		opts = append(opts, client.WithHost(cfg.DockerHost))
	}
	dc, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("executor: docker client: %w", err)
	}
	scfg := cfg.Sandbox
	scfg.Catalog = cat
	d, err := sandbox.New(dc, scfg, log)
	if err != nil {
		dc.Close()
		return nil, fmt.Errorf("executor: %w", err)
	}
	r := &Role{cfg: cfg, log: log, docker: dc, driver: d}
	if cfg.Registry.URL != "" {
		if r.reg, r.closeReg, err = cfg.Registry.Open(); err != nil {
			dc.Close()
			return nil, fmt.Errorf("executor: %w", err)
		}
	}
	return r, nil
}

// Executor is the in-process Docker driver (for app all and the worker).
func (r *Role) Executor() executor.Executor { return r.driver }

// Driver is the sandbox driver itself.
func (r *Role) Driver() *sandbox.Driver { return r.driver }

// Register adds the role's readiness checks and metrics to srv.
func (r *Role) Register(srv *httpx.Server) {
	srv.AddCheck("docker", r.driver.Ready)
	r.driver.Register(srv.Registry())
}

// Mount adds the internal API routes to srv.
func (r *Role) Mount(srv *httpx.Server) {
	srv.Handle("/executor/v1/", r.Handler())
}

// Handler is the internal API alone, under /executor/v1, behind the token.
func (r *Role) Handler() http.Handler {
	return httpx.RequireToken(r.cfg.InternalToken, newAPI(r.driver, r.log))
}

// Work prepares the driver and keeps its warm pools until ctx ends, then
// removes every sandbox this instance owns.
func (r *Role) Work(ctx context.Context) error {
	defer r.docker.Close()
	if r.reg == nil {
		return r.driver.Run(ctx)
	}
	defer r.closeReg()
	// Announced from the start (unhealthy until the driver is ready), and
	// withdrawn as soon as shutdown begins, while in-flight jobs finish.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.reg.Run(ctx, r.cfg.AnnounceTTL, r.snapshot, r.log)
	}()
	err := r.driver.Run(ctx)
	<-done
	return err
}

// snapshot is this executor's registry entry now.
func (r *Role) snapshot(ctx context.Context) registry.Entry {
	e := registry.Entry{Name: r.driver.Instance(), URL: r.cfg.AnnounceURL, Healthy: true}
	if c, err := r.driver.Capacity(ctx); err == nil {
		e.Slots, e.Busy = c.Slots, c.Busy
	}
	if err := r.driver.Ready(ctx); err != nil {
		e.Healthy, e.Error = false, err.Error()
	}
	for _, l := range r.driver.Languages(ctx) {
		if l.Present {
			e.Languages = append(e.Languages, l.ID)
		}
	}
	return e
}

// Run serves the internal API and runs the background loops until ctx ends.
func (r *Role) Run(ctx context.Context) error {
	return role.Serve(ctx, r.log, role.Config{Addr: r.cfg.Addr, HTTP: r.cfg.HTTP,
		Internal: &role.InternalAPI{Token: r.cfg.InternalToken, AllowOpen: r.cfg.InsecureNoToken}}, role.Named{Name: "executor", Role: r})
}

type runner interface {
	executor.LiveExecutor
	Languages(ctx context.Context) []sandbox.LanguageStatus
}

func newAPI(ex runner, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	lr := newLiveRuns(ex, log)
	mux.HandleFunc("POST /executor/v1/input/{id}", lr.input)
	mux.HandleFunc("POST /executor/v1/run", func(w http.ResponseWriter, r *http.Request) {
		var j job.Job
		if err := httpx.DecodeJSON(w, r, &j, executorhttp.MaxJobBytes); err != nil {
			httpx.WriteProblem(w, r, *err.(*httpx.Problem))
			return
		}
		if !job.ValidID(j.ID) || j.Request.Language == "" {
			httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusBadRequest, Title: "invalid job", Code: executorhttp.CodeInvalid,
				Detail: "a job needs a valid id and a language"})
			return
		}
		if r.Header.Get("Accept") == executorhttp.NDJSON {
			lr.run(w, r, j)
			return
		}
		res, err := ex.Execute(r.Context(), j)
		var busy *executor.BusyError
		switch {
		case errors.As(err, &busy):
			httpx.WriteProblem(w, r, executorhttp.BusyProblem(busy))
		case err != nil:
			httpx.Logger(r.Context(), log).Warn("job not run", "job", j.ID, "err", err)
			httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusServiceUnavailable, Title: "job not run", Code: executorhttp.CodeNotRun,
				Detail: err.Error()})
		default:
			httpx.WriteJSON(w, http.StatusOK, res)
		}
	})
	mux.HandleFunc("POST /executor/v1/cancel/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := ex.Cancel(r.Context(), r.PathValue("id")); err != nil {
			httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusInternalServerError, Detail: err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /executor/v1/capacity", func(w http.ResponseWriter, r *http.Request) {
		c, err := ex.Capacity(r.Context())
		if err != nil {
			httpx.WriteProblem(w, r, httpx.Problem{Status: http.StatusInternalServerError, Detail: err.Error()})
			return
		}
		httpx.WriteJSON(w, http.StatusOK, c)
	})
	mux.HandleFunc("GET /executor/v1/languages", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, ex.Languages(r.Context()))
	})
	return mux
}
