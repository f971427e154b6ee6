# shellcheck shell=bash
# Shared shell functions for scripts/testenv.sh and scripts/run.sh.
#
# Source it from a script that runs with `set -euo pipefail`. Daemons are
# started with fd 9 closed: testenv.sh holds its lock on fd 9, and a daemon
# inheriting it would hold the lock forever.
# Every function
# either succeeds or calls die with a message saying what failed and where the
# log is: a half-started test environment must never look like a working one.
#
# Nothing here names a package mirror: `app images build` reads it at run
# time from the machine's apt configuration.

EXECBOX_STATE_DIR=${EXECBOX_STATE_DIR:-/var/lib/execbox-test}
EXECBOX_CACHE_DIR=${EXECBOX_CACHE_DIR:-/var/cache/execbox}
EXECBOX_REDIS_PORT=${EXECBOX_REDIS_PORT:-16379}
EXECBOX_PG_PORT=${EXECBOX_PG_PORT:-15432}
EXECBOX_PG_BIN=${EXECBOX_PG_BIN:-/usr/lib/postgresql/15/bin}
EXECBOX_DOCKERD_LOG=${EXECBOX_DOCKERD_LOG:-/var/log/dockerd.log}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
	exit 1
}

# now_ms prints a monotonic-enough wall clock in milliseconds.
now_ms() { date +%s%3N; }

# secs_since START_MS prints the seconds elapsed since START_MS, e.g. "1.234".
secs_since() {
	local d=$(($(now_ms) - $1))
	printf '%d.%03d' $((d / 1000)) $((d % 1000))
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "$1 must run as root (it installs packages and starts daemons)"
}

# ---------------------------------------------------------------------------
# Packages

APT_UPDATED=0

# apt_install [--with-recommends] PKG... installs the packages with apt-get
# (without their Recommends unless asked), running `apt-get update` once per
# script run first.
apt_install() {
	local t0 rec=--no-install-recommends
	if [[ $1 == --with-recommends ]]; then
		rec=--install-recommends
		shift
	fi
	t0=$(now_ms)
	export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
	if [[ $APT_UPDATED -eq 0 ]]; then
		log "apt-get update"
		apt-get update -qq || die "apt-get update failed"
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	# No daemon may start from a package's install script: docker.io would
	# start dockerd with its default bridge (a private-range network and
	# iptables rules), redis-server and postgresql would take the standard
	# ports. policy-rc.d exit 101 is Debian's "do not start services".
	local policy=/usr/sbin/policy-rc.d ours=0 rc=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		ours=1
	fi
	apt-get install -y -qq "$rec" "$@" >/dev/null || rc=$?
	[[ $ours -eq 1 ]] && rm -f "$policy"
	[[ $rc -eq 0 ]] || die "apt-get install $* failed (exit $rc)"
	log "installed $* in $(secs_since "$t0")s"
}

# ensure_packages installs, only when missing, the packages the test
# environment needs. Cheap when everything is present (no apt call at all).
ensure_packages() {
	# docker.io as verified on the project's machines: with its Recommends
	# (apparmor, cgroupfs-mount, ...), which the engine may need.
	if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
		apt_install --with-recommends docker.io
	fi
	local missing=()
	command -v redis-server >/dev/null || missing+=(redis-server)
	command -v redis-cli >/dev/null || missing+=(redis-tools)
	command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
	[[ -x /usr/bin/eatmydata ]] || missing+=(eatmydata)
	[[ -x $EXECBOX_PG_BIN/postgres && -x $EXECBOX_PG_BIN/initdb ]] || missing+=(postgresql-15)
	command -v runuser >/dev/null || missing+=(util-linux)
	command -v flock >/dev/null || missing+=(util-linux)
	command -v sha256sum >/dev/null || missing+=(coreutils)
	command -v curl >/dev/null || missing+=(curl) # the README examples test runs curl
	# The compose test brings compose.yaml up for real. Debian 12 packages
	# Compose 1.29 (Python); Compose v2 is not packaged, and building it from
	# the Go module would pull Docker's build stack into a test dependency.
	command -v docker-compose >/dev/null || missing+=(docker-compose)
	command -v nsenter >/dev/null || missing+=(util-linux)
	command -v node >/dev/null || missing+=(nodejs) # the Piston client test runs the npm piston-client
	command -v npm >/dev/null || missing+=(npm)
	# The browser test drives the /docs playground in Debian's chromium,
	# headless; the fonts give its screenshots legible text.
	command -v chromium >/dev/null || missing+=(chromium)
	[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
	if [[ ${#missing[@]} -gt 0 ]]; then
		# de-duplicate, keep order
		local -A seen=()
		local uniq=() p
		for p in "${missing[@]}"; do
			[[ -n ${seen[$p]:-} ]] && continue
			seen[$p]=1
			uniq+=("$p")
		done
		apt_install "${uniq[@]}"
	fi
}

# EXECBOX_PISTON_CLIENT_DIR holds the npm piston-client package, as its
# users install it, for pkg/e2e's TestPistonClient.
EXECBOX_PISTON_CLIENT_VERSION=1.0.2
EXECBOX_PISTON_CLIENT_DIR=${EXECBOX_PISTON_CLIENT_DIR:-$EXECBOX_CACHE_DIR/npm/piston-client-$EXECBOX_PISTON_CLIENT_VERSION}

# ensure_piston_client installs the npm piston-client into the cache (never
# into the repository), once.
ensure_piston_client() {
	[[ -f $EXECBOX_PISTON_CLIENT_DIR/node_modules/piston-client/index.js ]] && return 0
	mkdir -p "$EXECBOX_PISTON_CLIENT_DIR"
	npm install --prefix "$EXECBOX_PISTON_CLIENT_DIR" --no-audit --no-fund --no-save \
		"piston-client@$EXECBOX_PISTON_CLIENT_VERSION" >/dev/null ||
		die "npm could not install piston-client@$EXECBOX_PISTON_CLIENT_VERSION"
	log "installed piston-client@$EXECBOX_PISTON_CLIENT_VERSION in $EXECBOX_PISTON_CLIENT_DIR"
}

# ensure_playground_npm installs the exact npm packages of the /docs
# playground's package-lock.json into the cache (never into the repository),
# for the test that rebuilds the committed bundle (build.sh names the
# directory after the lock file's hash, so worktrees with different locks do
# not share one).
ensure_playground_npm() {
	local dir
	dir=$("$REPO_ROOT/roles/gateway/playground/build.sh" --deps) ||
		die "npm could not install the playground's packages (roles/gateway/playground/package-lock.json)"
	log "playground npm packages: $dir"
}

# ---------------------------------------------------------------------------
# Docker Engine

# ensure_docker starts Docker Engine unless `docker info` already works.
# The daemon is started without a bridge and without iptables rules: sandboxes
# use network mode "none", and the test machine must never create or route
# private-range networks.
ensure_docker() {
	if docker info >/dev/null 2>&1; then
		return 0
	fi
	command -v dockerd >/dev/null || apt_install --with-recommends docker.io
	local t0 pid
	t0=$(now_ms)
	log "starting dockerd (log: $EXECBOX_DOCKERD_LOG)"
	mkdir -p "$(dirname "$EXECBOX_DOCKERD_LOG")"
	# setsid + nohup: the daemon outlives this script and its terminal.
	setsid nohup dockerd --bridge=none --iptables=false \
		>>"$EXECBOX_DOCKERD_LOG" 2>&1 </dev/null 9>&- &
	pid=$!
	local deadline=$((SECONDS + 60))
	until docker info >/dev/null 2>&1; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 30 "$EXECBOX_DOCKERD_LOG" >&2 || true
			die "dockerd exited during start-up; see $EXECBOX_DOCKERD_LOG"
		fi
		if ((SECONDS >= deadline)); then
			tail -n 30 "$EXECBOX_DOCKERD_LOG" >&2 || true
			die "Docker Engine not ready after 60 s; see $EXECBOX_DOCKERD_LOG"
		fi
		sleep 0.25
	done
	log "dockerd ready (pid $pid) in $(secs_since "$t0")s"
}

# ensure_runsc installs gVisor's runsc (Debian package) and registers it with
# the running dockerd as the runtime "runsc": merged into
# /etc/docker/daemon.json (other settings kept), then SIGHUP, which makes
# dockerd reload its runtimes without touching running containers.
# Runtime arguments:
#   --network=none  sandboxes have no network anyway; without it runsc refuses
#                   to start here ("cannot run with network enabled in root
#                   network namespace")
#   --oci-seccomp   apply the container's seccomp profile (execbox's own) to
#                   the sandboxed program too; runsc ignores it otherwise
ensure_runsc() {
	command -v runsc >/dev/null || apt_install runsc
	local conf=/etc/docker/daemon.json runsc want pid
	runsc=$(command -v runsc)
	want="{\"runtimes\": {\"runsc\": {\"path\": \"$runsc\", \"runtimeArgs\": [\"--network=none\", \"--oci-seccomp\"]}}}"
	mkdir -p /etc/docker
	[[ -s $conf ]] || echo '{}' >"$conf"
	if [[ $(tr -d ' \t\n' <"$conf") == "{}" ]]; then
		printf '%s\n' "$want" >"$conf.tmp"
	else
		command -v python3 >/dev/null || die "$conf has settings and python3 is missing to merge runsc into it"
		python3 - "$conf" "$want" <<'PY' || die "cannot merge runsc into $conf"
import json, sys
path, want = sys.argv[1], json.loads(sys.argv[2])
with open(path) as f:
    text = f.read()
conf = json.loads(text)
if conf.get("runtimes", {}).get("runsc") != want["runtimes"]["runsc"]:
    conf.setdefault("runtimes", {}).update(want["runtimes"])
    text = json.dumps(conf, indent=2) + "\n"
with open(path + ".tmp", "w") as f:
    f.write(text)
PY
	fi
	if cmp -s "$conf" "$conf.tmp" && docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>/dev/null | grep -qw runsc; then
		rm -f "$conf.tmp"
		return 0
	fi
	mv "$conf.tmp" "$conf"
	pid=$(pidof dockerd) || die "dockerd is not running: cannot register runsc"
	kill -HUP "$pid"
	local deadline=$((SECONDS + 30))
	until docker info --format '{{range $k, $v := .Runtimes}}{{$k}} {{end}}' 2>/dev/null | grep -qw runsc; do
		((SECONDS < deadline)) || die "dockerd did not list runsc 30 s after SIGHUP; see $EXECBOX_DOCKERD_LOG"
		sleep 0.25
	done
	log "runsc registered with dockerd ($conf)"
}

# ---------------------------------------------------------------------------
# Redis

# ensure_redis starts a private Redis on 127.0.0.1:$EXECBOX_REDIS_PORT with
# an append-only file that is fsynced on every write, so tests can restart
# it without losing acknowledged writes. Nothing happens if it already answers.
ensure_redis() {
	local dir=$EXECBOX_STATE_DIR/redis
	if [[ $(redis-cli -h 127.0.0.1 -p "$EXECBOX_REDIS_PORT" ping 2>/dev/null) == PONG ]]; then
		return 0
	fi
	local t0
	t0=$(now_ms)
	# Throw-away: a new instance starts empty.
	rm -rf "$dir"
	mkdir -p "$dir"
	write_redis_conf "$dir/redis.conf" "$dir" "$EXECBOX_REDIS_PORT"
	log "starting redis-server on 127.0.0.1:$EXECBOX_REDIS_PORT (dir: $dir)"
	redis-server "$dir/redis.conf" 9>&- || die "redis-server failed to start; see $dir/redis.log"
	local deadline=$((SECONDS + 20))
	until [[ $(redis-cli -h 127.0.0.1 -p "$EXECBOX_REDIS_PORT" ping 2>/dev/null) == PONG ]]; do
		if ((SECONDS >= deadline)); then
			tail -n 20 "$dir/redis.log" >&2 || true
			die "Redis not answering on 127.0.0.1:$EXECBOX_REDIS_PORT after 20 s; see $dir/redis.log"
		fi
		sleep 0.1
	done
	log "redis ready in $(secs_since "$t0")s"
}

# write_redis_conf FILE DIR PORT writes the configuration of a private,
# loopback-only, durable Redis (the same settings compose.yaml uses).
write_redis_conf() {
	cat >"$1" <<EOF
bind 127.0.0.1
port $3
dir $2
daemonize yes
pidfile $2/redis.pid
logfile $2/redis.log
save ""
appendonly yes
appendfsync always
maxmemory-policy noeviction
EOF
}

# ---------------------------------------------------------------------------
# PostgreSQL

pg_ready() {
	"$EXECBOX_PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$EXECBOX_PG_PORT" -U postgres 2>/dev/null
}

# ensure_postgres starts a private PostgreSQL 15 cluster in a throw-away data
# directory on 127.0.0.1:$EXECBOX_PG_PORT, trust auth on loopback, superuser
# postgres. Durability is switched off (fsync=off): it is a test cluster.
ensure_postgres() {
	local base=$EXECBOX_STATE_DIR/pg
	local data=$base/data sock=$base/sock logf=$base/postgres.log
	if pg_ready; then
		return 0
	fi
	local t0
	t0=$(now_ms)
	# A stale cluster from an earlier run (e.g. killed): stop it if it still
	# runs somewhere, then start over.
	if [[ -f $data/PG_VERSION ]]; then
		runuser -u postgres -- "$EXECBOX_PG_BIN/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
	fi
	rm -rf "$base"
	mkdir -p "$EXECBOX_STATE_DIR"
	chmod 755 "$EXECBOX_STATE_DIR"
	install -d -o postgres -g postgres -m 700 "$base" "$data"
	install -d -o postgres -g postgres -m 755 "$sock"
	log "initdb $data"
	runuser -u postgres -- "$EXECBOX_PG_BIN/initdb" -D "$data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C --no-sync >"$base/initdb.log" 2>&1 ||
		{
			cat "$base/initdb.log" >&2
			die "initdb failed"
		}
	# Settings go into postgresql.conf so that a plain `pg_ctl -D DATA start`
	# (tests restarting the cluster) brings it back identically.
	cat >>"$data/postgresql.conf" <<EOF

# execbox test cluster (scripts/lib.sh)
listen_addresses = '127.0.0.1'
port = $EXECBOX_PG_PORT
unix_socket_directories = '$sock'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
	log "starting postgres on 127.0.0.1:$EXECBOX_PG_PORT (log: $logf)"
	runuser -u postgres -- "$EXECBOX_PG_BIN/pg_ctl" -D "$data" -l "$logf" -w -t 60 start >/dev/null 9>&- ||
		{
			tail -n 30 "$logf" >&2 || true
			die "PostgreSQL failed to start; see $logf"
		}
	pg_ready || die "PostgreSQL started but pg_isready fails on 127.0.0.1:$EXECBOX_PG_PORT; see $logf"
	log "postgres ready in $(secs_since "$t0")s"
}

# ---------------------------------------------------------------------------
# Sandbox images: the runtime images of the embedded language catalog,
# built from their recipes (pkg/runtimes) by the binary's own
# `app images build`, so the images the tests run are the images production
# runs. No registry is needed: the base is made with mmdebstrap and
# imported when debian:bookworm-slim cannot be pulled; each image is the
# base plus its Debian packages, installed with apt-get in a container on
# the host network and committed with its recipe hash, so a second run
# skips it. Caches under $EXECBOX_CACHE_DIR (see `app images build --help`):
#   rootfs/  the base tarball, by recipe hash
#   apt/<image>/{archives,lists}  downloaded .debs and package lists
#   logs/    one build log per image
# EXECBOX_DEBIAN_MIRROR overrides the host's mirror (read from its apt
# sources at run time; no mirror is ever written into the repository).

# build_images builds the app binary into a temporary directory, then every
# runtime image that is missing or outdated (in parallel, one progress line
# per step and image).
build_images() {
	local root tmp t0
	root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
	command -v go >/dev/null || die "Go is needed to build the images (app images build)"
	t0=$(now_ms)
	tmp=$(mktemp -d)
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$tmp/app" .) || {
		rm -rf "$tmp"
		die "go build for app images build failed"
	}
	log "built the app binary in $(secs_since "$t0")s; building runtime images (logs: $EXECBOX_CACHE_DIR/logs)"
	if ! "$tmp/app" images build --cache-dir "$EXECBOX_CACHE_DIR" --log-format text >&2; then
		rm -rf "$tmp"
		die "building the runtime images failed (logs in $EXECBOX_CACHE_DIR/logs)"
	fi
	rm -rf "$tmp"
	log "images ready in $(secs_since "$t0")s"
}
