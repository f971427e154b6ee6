#!/usr/bin/env bash
# Run execbox on this machine (the README's "run the service" command):
# `app all` on port 8085 with the embedded queue and store, data under
# ./data (or $EXECBOX_DATA_DIR).
#
#   scripts/run.sh                 build, then run in the foreground
#   scripts/run.sh --log-level debug   extra arguments go to `app all`
#
# On a fresh Debian machine (as root) it installs and starts Docker Engine if
# needed, then builds the runtime images of the embedded language catalog
# that are missing or outdated (`app images build`: the base is pulled as
# debian:bookworm-slim where a registry answers, else made with mmdebstrap;
# a second run takes seconds).
#
#   EXECBOX_RUN_IMAGES=build  (default) build missing or outdated images first
#   EXECBOX_RUN_IMAGES=skip   start without building (missing images fail
#                             their jobs with a message naming the command)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"
cd "$REPO_ROOT"

command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "Go is needed to build execbox (looked on PATH and in /usr/local/go/bin)"

# Docker Engine: install and start it if it does not answer (needs root).
if ! docker info >/dev/null 2>&1; then
	require_root "starting Docker Engine"
	command -v dockerd >/dev/null || apt_install --with-recommends docker.io
	ensure_docker
fi

log "building bin/app"
version=$(git describe --always --dirty 2>/dev/null || echo dev)
CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X github.com/execbox/app/pkg/version.Version=$version" \
	-o bin/app . || die "go build failed"

args=(all)
case ${EXECBOX_RUN_IMAGES:-build} in
build)
	if [[ $(id -u) -eq 0 ]]; then
		command -v mmdebstrap >/dev/null || apt_install mmdebstrap
		[[ -x /usr/bin/eatmydata ]] || apt_install eatmydata
	fi
	mkdir -p "$EXECBOX_CACHE_DIR"
	log "building missing or outdated runtime images (logs: $EXECBOX_CACHE_DIR/logs)"
	bin/app images build --cache-dir "$EXECBOX_CACHE_DIR" --log-format text || die "app images build failed"
	;;
skip) ;;
*) die "EXECBOX_RUN_IMAGES=$EXECBOX_RUN_IMAGES: want build or skip" ;;
esac

export EXECBOX_DATA_DIR=${EXECBOX_DATA_DIR:-$REPO_ROOT/data}
mkdir -p "$EXECBOX_DATA_DIR"
log "starting: bin/app ${args[*]} $* (data: $EXECBOX_DATA_DIR, runtimes: ${EXECBOX_RUNTIMES:-embedded}; http://127.0.0.1:8085)"
exec bin/app "${args[@]}" "$@"
