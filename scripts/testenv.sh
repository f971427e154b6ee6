#!/usr/bin/env bash
# Prepare this machine for execbox's tests: everything the integration tests
# need, installed and started by the project itself (fresh Debian 12, root).
#
#   scripts/testenv.sh           set up, write the settings file, print a summary
#   source scripts/testenv.sh    the same, then export the settings into this shell
#
# Idempotent and cheap on a second run (a second or two): packages are
# installed only when missing, daemons started only when they do not answer,
# and images rebuilt only when their recipe changed.
#
# What it provides:
#   - Docker Engine (dockerd --bridge=none --iptables=false if not running)
#   - gVisor's runsc, registered with dockerd as the runtime "runsc"
#   - Redis 7 on 127.0.0.1:16379, append-only with fsync always
#   - PostgreSQL 15 on 127.0.0.1:15432, throw-away cluster, trust auth, user postgres
#   - the runtime images of the embedded language catalog, built from their
#     recipes by `app images build` (no registry needed; see lib.sh):
#       execbox/runtime-base:bookworm and execbox/runtime-<group>:bookworm
#   - chromium (headless, for the playground's browser test) and the npm
#     packages of the playground bundle (roles/gateway/playground), cached
#   - /var/lib/execbox-test/env with the EXECBOX_TEST_* settings (export lines),
#     and EXECBOX_ARTIFACTS (default /var/lib/execbox-test/artifacts): where
#     tests keep screenshots
#
# Tunables (environment): EXECBOX_STATE_DIR, EXECBOX_CACHE_DIR,
# EXECBOX_REDIS_PORT, EXECBOX_PG_PORT, EXECBOX_PG_BIN, EXECBOX_DEBIAN_MIRROR,
# EXECBOX_SKIP_IMAGES=1 (services only).

if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
	# Sourced: do the work in a child bash so that `set -euo pipefail` and
	# `exit` never touch the caller's shell, then load the settings.
	__execbox_testenv_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
	if ! bash "$__execbox_testenv_dir/testenv.sh"; then
		unset __execbox_testenv_dir
		echo "scripts/testenv.sh failed" >&2
		return 1
	fi
	# shellcheck disable=SC1091
	. "${EXECBOX_STATE_DIR:-/var/lib/execbox-test}/env"
	unset __execbox_testenv_dir
	return 0
fi

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPT_DIR/lib.sh"

require_root "scripts/testenv.sh"

T_START=$(now_ms)
mkdir -p "$EXECBOX_STATE_DIR" "$EXECBOX_CACHE_DIR"
chmod 755 "$EXECBOX_STATE_DIR"

# One setup at a time on this machine (two shells, or CI and a developer).
exec 9>"$EXECBOX_STATE_DIR/.lock"
flock -w 900 9 || die "another scripts/testenv.sh holds $EXECBOX_STATE_DIR/.lock for 15 min"

declare -A TIMES=()
step() {
	local name=$1 t0
	shift
	t0=$(now_ms)
	"$@"
	TIMES[$name]=$(secs_since "$t0")
}

step packages ensure_packages
step npm ensure_piston_client
step playground_npm ensure_playground_npm
step docker ensure_docker
step runsc ensure_runsc

# Services do not depend on each other: start them while images build.
if [[ ${EXECBOX_SKIP_IMAGES:-0} != 1 ]]; then
	T_IMG=$(now_ms)
	build_images &
	IMG_PID=$!
fi
step redis ensure_redis
step postgres ensure_postgres
if [[ -n ${IMG_PID:-} ]]; then
	wait "$IMG_PID" || die "sandbox images failed to build (see above)"
	TIMES[images]=$(secs_since "$T_IMG")
fi

# The tests run the embedded catalog itself: testdata/runtimes.json only
# extends it with nothing, so what CI proves is what ships.
RUNTIMES=$REPO_ROOT/testdata/runtimes.json
[[ -f $RUNTIMES ]] || log "warning: $RUNTIMES does not exist yet (tests that need the local catalog will fail)"

ENV_FILE=$EXECBOX_STATE_DIR/env
cat >"$ENV_FILE.tmp" <<EOF
# Written by scripts/testenv.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ). Source it.
export EXECBOX_TEST_SERVICES=required
export EXECBOX_TEST_REDIS_URL=redis://127.0.0.1:$EXECBOX_REDIS_PORT/0
export EXECBOX_TEST_REDIS_SERVER=$(command -v redis-server)
export EXECBOX_TEST_REDIS_DIR=$EXECBOX_STATE_DIR/redis
export EXECBOX_TEST_REDIS_CONF=$EXECBOX_STATE_DIR/redis/redis.conf
export EXECBOX_TEST_DATABASE_URL='postgres://postgres@127.0.0.1:$EXECBOX_PG_PORT/postgres?sslmode=disable'
export EXECBOX_TEST_PG_BIN=$EXECBOX_PG_BIN
export EXECBOX_TEST_PG_DATA=$EXECBOX_STATE_DIR/pg/data
export EXECBOX_TEST_PG_LOG=$EXECBOX_STATE_DIR/pg/postgres.log
export DOCKER_HOST=unix:///var/run/docker.sock
export EXECBOX_TEST_RUNTIMES=$RUNTIMES
export EXECBOX_TEST_PISTON_CLIENT=$EXECBOX_PISTON_CLIENT_DIR
export EXECBOX_TEST_CHROMIUM=$(command -v chromium)
export EXECBOX_ARTIFACTS=\${EXECBOX_ARTIFACTS:-$EXECBOX_STATE_DIR/artifacts}
EOF
mv "$ENV_FILE.tmp" "$ENV_FILE"

summary=""
for k in packages npm playground_npm docker runsc redis postgres images; do
	[[ -n ${TIMES[$k]:-} ]] && summary+=" $k=${TIMES[$k]}s"
done
log "test environment ready in $(secs_since "$T_START")s:$summary"
log "settings: $ENV_FILE (source it, or source scripts/testenv.sh)"
