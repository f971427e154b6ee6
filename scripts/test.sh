#!/usr/bin/env bash
# The project's test command (README, CI): prepares the test environment
# (scripts/testenv.sh: Docker Engine, Redis, PostgreSQL, sandbox images),
# then vets and tests every package against it.
#
#   scripts/test.sh                       everything
#   scripts/test.sh -run TestQueue -v     extra arguments go to `go test`
#   PKGS=./pkg/queue/... scripts/test.sh  only some packages
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || {
	echo "scripts/test.sh: no go on PATH or in /usr/local/go/bin" >&2
	exit 1
}

t0=$SECONDS
# shellcheck source=scripts/testenv.sh
source scripts/testenv.sh

read -r -a pkgs <<<"${PKGS:-./...}"
echo "== go vet ${pkgs[*]}" >&2
go vet "${pkgs[@]}"
if [[ -z ${PKGS:-} ]]; then
	# The language matrix (pkg/runtimes) runs alone, after the rest: under
	# gVisor a thread's wait for a busy host CPU counts as its CPU time, and
	# beside pkg/e2e the JVM languages' start-up reached their CPU limits
	# (Scala: 5026 ms CPU in 5026 ms wall, at load 25-30).
	mapfile -t pkgs < <(go list ./... | grep -vx 'github.com/execbox/app/pkg/runtimes')
	echo "== go test ./... but pkg/runtimes" >&2
	go test -count=1 -timeout 25m "$@" "${pkgs[@]}"
	echo "== go test ./pkg/runtimes (the language matrix, alone)" >&2
	go test -count=1 -timeout 25m "$@" ./pkg/runtimes
else
	echo "== go test ${pkgs[*]}" >&2
	go test -count=1 -timeout 25m "$@" "${pkgs[@]}"
fi
if [[ -z ${PKGS:-} ]]; then
	# The Helm chart's render test is its own module (Helm and the
	# Kubernetes API types stay out of the binary's module graph).
	echo "== deploy/helm/test: go vet, go test" >&2
	(cd deploy/helm/test && go vet ./... && go test -count=1 "$@" ./...)
fi
echo "scripts/test.sh: done in $((SECONDS - t0)) s" >&2
