// Package e2e holds the process-level tests: they build the app binary,
// start roles as real processes against the real Redis, PostgreSQL and
// Docker Engine that scripts/testenv.sh provides, and talk to them over
// HTTP like a client or an orchestrator would.
package e2e
