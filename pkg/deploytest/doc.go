// Package deploytest checks the deployment files at the repository root
// against what the design promises of them: compose.yaml (one image for every
// role, health checks, memory limits, the Docker API reachable only from the
// executor, durable Redis, released image tags) and the Containerfile (a
// static binary on an empty image, non-root, no shell). It has tests only.
//
// Beyond reading the files it runs them: TestComposeUp brings compose.yaml up
// with Debian's docker-compose (the final-stage image, Redis and PostgreSQL
// stand-ins built from Debian packages, every health check, the README's
// first example, memory within limits, down with nothing left), and
// TestMultiHostRehearsal runs a many-host deployment on loopback (executors
// found through the registry, one added and one killed mid-load).
//
// The tests need Docker Engine, Redis and PostgreSQL (scripts/test.sh starts
// them) but no registry: images are built locally.
package deploytest
