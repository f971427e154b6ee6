package gateway

import (
	"github.com/execbox/app/roles/gateway/core"
	"github.com/execbox/app/roles/gateway/judge0"
	"github.com/execbox/app/roles/gateway/native"
	"github.com/execbox/app/roles/gateway/piston"
)

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
