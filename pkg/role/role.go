// Package role writes down, once, the contract every execbox role follows
// and the one function that serves roles.
//
// A role registers its readiness checks and metrics, mounts its routes and
// works until its context ends. Serve puts one or more roles on one HTTP
// server (health, readiness, metrics, graceful drain from pkg/httpx), runs
// their work in the order given and the server last, stops them in reverse
// when the context ends or as soon as one fails, and, once start-up has
// settled, gives the memory only start-up needed back to the kernel
// (pkg/memtrim). Each split role's Run is Serve of itself; app all is Serve
// of every role, from an ordered list.
package role

import (
	"context"
	"log/slog"
	"time"

	"github.com/execbox/app/pkg/httpx"
	"github.com/execbox/app/pkg/lifecycle"
	"github.com/execbox/app/pkg/memtrim"
)

// Role is what every role implements.
type Role interface {
	// Register adds the role's readiness checks and metrics to srv.
	Register(srv *httpx.Server)
	// Mount adds the role's routes to srv.
	Mount(srv *httpx.Server)
	// Work runs the role's background work until ctx ends; it returns nil
	// on a clean stop.
	Work(ctx context.Context) error
}

// Named is a role with the name its logs and errors carry.
type Named struct {
	Name string
	Role Role
}

// DefaultSettle is how long after start the start-up memory is released:
// long enough for connections, migrations and the warm pool.
const DefaultSettle = 3 * time.Second

// Config configures Serve.
type Config struct {
	// Addr is the HTTP listen address.
	Addr string
	// HTTP bounds what clients can hold of the server (zero fields: httpx's
	// defaults).
	HTTP httpx.Limits
	// ShutdownTimeout bounds the drain of in-flight HTTP requests (0:
	// httpx's default).
	ShutdownTimeout time.Duration
	// Settle is when start-up memory is released (0: DefaultSettle;
	// negative: never).
	Settle time.Duration
	// Internal, when set, is the guard of the internal API served at Addr:
	// Serve refuses to start if it is open to other hosts (InternalAPI.Check).
	Internal *InternalAPI
}

// Serve serves roles on one HTTP server at cfg.Addr until ctx ends or one
// of them fails (see the package comment), and returns the first failure.
func Serve(ctx context.Context, log *slog.Logger, cfg Config, roles ...Named) error {
	if cfg.Internal != nil {
		if err := cfg.Internal.Check(cfg.Addr, log); err != nil {
			return err
		}
	}
	srv := httpx.NewServer(httpx.Config{Addr: cfg.Addr, ShutdownTimeout: cfg.ShutdownTimeout, Limits: cfg.HTTP}, log)
	services := make([]lifecycle.Named, 0, len(roles)+1)
	for _, r := range roles {
		r.Role.Register(srv)
		r.Role.Mount(srv)
		services = append(services, lifecycle.Named{Name: r.Name, Service: lifecycle.Func(r.Role.Work)})
	}
	services = append(services, lifecycle.Named{Name: "http", Service: srv})
	settle := cfg.Settle
	if settle == 0 {
		settle = DefaultSettle
	}
	if settle > 0 {
		go memtrim.AfterStartup(ctx, log, settle)
	}
	return lifecycle.Run(ctx, log, services...)
}

// Unmounted is r without its routes: app all serves the checks, metrics and
// work of its in-process roles but keeps their internal APIs off its port.
func Unmounted(r Role) Role { return unmounted{r} }

type unmounted struct{ Role }

func (unmounted) Mount(*httpx.Server) {}
