#!/usr/bin/env bash
# Run execbox on this machine (the README's "run the service" command):
# `app all` on port 8085 with the embedded queue and store, data under
# ./data (or $EXECBOX_DATA_DIR).
#
#   scripts/run.sh                 build, then run in the foreground
#   scripts/run.sh --log-level debug   extra arguments go to `app all`
#
# On a fresh Debian machine (as root) it installs and starts Docker Engine if
# needed. It then checks whether the images of the default language catalog
# can be pulled; where no registry is reachable it builds the local sandbox
# images from Debian packages and runs with the local catalog
# (testdata/runtimes.json, passed as EXECBOX_RUNTIMES) instead.
#
#   EXECBOX_RUN_IMAGES=auto      (default) try a pull of python:3.12-slim
#   EXECBOX_RUN_IMAGES=upstream  use the default catalog, no check
#   EXECBOX_RUN_IMAGES=local     build and use the local images, no pull attempt
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

mode=${EXECBOX_RUN_IMAGES:-auto}
if [[ $mode == auto ]]; then
	probe=python:3.12-slim
	if docker image inspect "$probe" >/dev/null 2>&1; then
		mode=upstream
	else
		log "checking whether registry images can be pulled (docker pull $probe, 30 s at most)"
		if timeout 30 docker pull -q "$probe" >/dev/null 2>&1; then
			mode=upstream
		else
			log "cannot pull $probe: using locally built images"
			mode=local
		fi
	fi
fi

args=(all)
case $mode in
upstream) ;;
local)
	require_root "building the local sandbox images"
	command -v mmdebstrap >/dev/null || apt_install mmdebstrap
	[[ -x /usr/bin/eatmydata ]] || apt_install eatmydata
	mkdir -p "$EXECBOX_CACHE_DIR"
	build_images
	# The environment form of --runtimes (every flag has one): unlike the
	# flag, it cannot make an older binary refuse to start.
	export EXECBOX_RUNTIMES=$REPO_ROOT/testdata/runtimes.json
	bin/app all --help 2>&1 | grep -q -- '--runtimes' ||
		log "warning: this bin/app all has no --runtimes yet: it will use its embedded catalog"
	;;
*) die "EXECBOX_RUN_IMAGES=$mode: want auto, upstream or local" ;;
esac

export EXECBOX_DATA_DIR=${EXECBOX_DATA_DIR:-$REPO_ROOT/data}
mkdir -p "$EXECBOX_DATA_DIR"
log "starting: bin/app ${args[*]} $* (data: $EXECBOX_DATA_DIR, runtimes: ${EXECBOX_RUNTIMES:-embedded}; http://127.0.0.1:8085)"
exec bin/app "${args[@]}" "$@"
