// Package deploytest checks the deployment files at the repository root
// against what the design promises of them: compose.yaml (one image for every
// role, health checks, memory limits, the Docker API reachable only from the
// executor, durable Redis, released image tags) and the Containerfile (a
// static binary on an empty image, non-root, no shell). It has tests only.
//
// The image test needs Docker Engine (scripts/test.sh starts it) but no
// registry: it builds the Containerfile's final stage FROM scratch around a
// locally built binary.
package deploytest
