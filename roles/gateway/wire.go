package gateway

import (
	"github.com/execbox/app/roles/gateway/core"
	"github.com/execbox/app/roles/gateway/judge0"
	"github.com/execbox/app/roles/gateway/native"
	"github.com/execbox/app/roles/gateway/piston"
)

// coreConfig is the part of the configuration the gateway core and the API
// packages read.
func (c Config) coreConfig() core.Config {
	return core.Config{
		APIKeys:              c.APIKeys,
		APIKeyCacheTTL:       c.APIKeyCacheTTL,
		RateLimit:            c.RateLimit,
		MaxInFlight:          c.MaxInFlight,
		MaxWait:              c.MaxWait,
		MaxBodyBytes:         c.MaxBodyBytes,
		MaxFiles:             c.MaxFiles,
		MaxSourceBytes:       c.MaxSourceBytes,
		MaxStdinBytes:        c.MaxStdinBytes,
		MaxArgs:              c.MaxArgs,
		MaxTests:             c.MaxTests,
		MaxBatch:             c.MaxBatch,
		MaxMetadataBytes:     c.MaxMetadataBytes,
		MaxLimits:            c.MaxLimits,
		CallbackAllowPrivate: c.CallbackAllowPrivate,
		CallbackAttempts:     c.CallbackAttempts,
		CallbackBackoff:      c.CallbackBackoff,
		CallbackMaxBackoff:   c.CallbackMaxBackoff,
		CallbackTimeout:      c.CallbackTimeout,
		MaxPendingCallbacks:  c.MaxPendingCallbacks,
		Heartbeat:            c.Heartbeat,
	}
}

// routeTable builds the public APIs over the core and lists their routes,
// then the docs' (which serve the OpenAPI document of all of them). Each
// API registers its callback renderer as it is built.
func (r *Role) routeTable() []core.Route {
	var all []core.Route
	all = append(all, native.New(r.svc).Routes()...)
	all = append(all, judge0.New(r.svc).Routes()...)
	all = append(all, piston.New(r.svc).Routes()...)
	return append(all, r.docRoutes(all)...)
}
