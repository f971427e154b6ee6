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
# Nothing here names a package mirror: debootstrap reads it at run time from
# the machine's apt configuration (see debian_mirror).

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
# Sandbox images, built from Debian packages (no registry needed)
#
# No image registry is reachable on the project's machines, so the sandbox
# images the tests use are made from Debian packages:
#   - the base, execbox-local/debian:bookworm, is a minbase root file system
#     made by mmdebstrap (same package set as `debootstrap --variant=minbase`,
#     but about 2.5x faster: it installs with apt in one go, and eatmydata
#     skips the fsyncs), imported with `docker import`;
#   - each language image is the base plus its packages, installed with
#     apt-get in a container on the host network, then `docker commit`ed, so
#     all of them share the base layer.
# Every image carries the label org.execbox.recipe=<hash of what made it>; an
# image whose label does not match its recipe (package list, base, this
# script's recipe version) is rebuilt. Caches under $EXECBOX_CACHE_DIR:
#   rootfs/  the base tarball, by recipe hash (re-imported in seconds)
#   apt/<image>/{archives,lists}  downloaded .debs and package lists
#   logs/    one build log per image

# debian_mirror prints the Debian archive URI apt uses on this machine: the
# first URIs: (deb822) or `deb` (legacy) entry that is not the security
# archive. EXECBOX_DEBIAN_MIRROR overrides it.
debian_mirror() {
	if [[ -n ${EXECBOX_DEBIAN_MIRROR:-} ]]; then
		echo "$EXECBOX_DEBIAN_MIRROR"
		return
	fi
	local m=""
	if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
		m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [[ -z $m && -f /etc/apt/sources.list ]]; then
		m=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	[[ -n $m ]] || die "cannot find a Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list (set EXECBOX_DEBIAN_MIRROR)"
	echo "$m"
}

# host_apt_opts prints, one per line, the host's apt settings that decide
# whether the mirror can be used at all (release date checks, proxies), as
# NAME=VALUE, so image builds fetch exactly as the host's apt does.
host_apt_opts() {
	local name val
	for name in Acquire::Check-Valid-Until Acquire::Check-Date Acquire::http::Proxy Acquire::https::Proxy; do
		val=$(apt-config dump "$name" 2>/dev/null | awk -v n="$name" '$1 == n { v = $2; gsub(/^"|";$/, "", v); print v; exit }')
		[[ -n $val ]] && echo "$name=$val"
	done
	return 0
}

# Bump when the way images are built changes (not only their package
# lists): it is part of every recipe hash, so all images are rebuilt.
EXECBOX_IMAGE_RECIPE_VERSION=3
EXECBOX_IMAGE_SUITE=bookworm
EXECBOX_IMAGE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EXECBOX_BASE_IMAGE=execbox-local/debian:bookworm

# The language images the tests and the local catalog
# (testdata/runtimes.json) use: TAG=comma-separated packages on top of the base.
SANDBOX_IMAGES=(
	"execbox-local/python:3.11=python3-minimal"
	"execbox-local/gcc:12=gcc,g++,libc6-dev"
	"execbox-local/node:18=nodejs"
)

image_hash() { printf '%s\n' "$@" | sha256sum | cut -c1-16; }
base_recipe_hash() {
	image_hash "v=$EXECBOX_IMAGE_RECIPE_VERSION" "suite=$EXECBOX_IMAGE_SUITE" variant=minbase "path=$EXECBOX_IMAGE_PATH"
}
# derived_recipe_hash INCLUDES
derived_recipe_hash() { image_hash "v=$EXECBOX_IMAGE_RECIPE_VERSION" "base=$(base_recipe_hash)" "include=$1"; }

# image_current TAG HASH succeeds if TAG exists and was built from HASH.
image_current() {
	local have
	have=$(docker image inspect -f '{{index .Config.Labels "org.execbox.recipe"}}' "$1" 2>/dev/null) || return 1
	[[ $have == "$2" ]]
}

image_name() { echo "$1" | tr '/:' '__'; }

image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }

# drop_replaced TAG OLD_ID removes the image TAG pointed to before a rebuild,
# so rebuilds do not pile up untagged images. Best effort: an image still used
# by a container or as a parent stays.
drop_replaced() {
	[[ -n $2 && $2 != "$(image_id "$1")" ]] || return 0
	docker rmi "$2" >/dev/null 2>&1 || true
}

# build_base builds $EXECBOX_BASE_IMAGE unless it is current; prints
# "cached", "imported" (from the tarball cache) or "built".
build_base() {
	local tag=$EXECBOX_BASE_IMAGE hash name tarball how=imported
	hash=$(base_recipe_hash)
	if image_current "$tag" "$hash"; then
		echo cached
		return 0
	fi
	name=$(image_name "$tag")
	tarball=$EXECBOX_CACHE_DIR/rootfs/$name-$hash.tar
	mkdir -p "$EXECBOX_CACHE_DIR/rootfs"
	if [[ ! -s $tarball ]]; then
		how=built
		local mirror opt args=()
		mirror=$(debian_mirror)
		while IFS= read -r opt; do args+=("--aptopt=${opt%%=*} \"${opt#*=}\""); done < <(host_apt_opts)
		log "mmdebstrap $tag from $mirror"
		# merged-usr: the /usr layout of debootstrap and Debian's images
		# (without it mmdebstrap pulls in usrmerge and perl).
		# Customize hook: hermetic image, no mirror, no host resolver/hostname.
		mmdebstrap --variant=minbase --mode=root --format=tar \
			--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
			--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
			"${args[@]}" \
			--customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"; : >"$1/etc/apt/sources.list"' \
			"$EXECBOX_IMAGE_SUITE" "$tarball.tmp" "deb $mirror $EXECBOX_IMAGE_SUITE main" >&2 ||
			{
				rm -f "$tarball.tmp"
				die "mmdebstrap for $tag failed"
			}
		mv "$tarball.tmp" "$tarball"
		# Tarballs of older recipes are dead weight.
		find "$EXECBOX_CACHE_DIR/rootfs" -name "$name-*.tar" ! -name "$name-$hash.tar" -delete
	fi
	local old
	old=$(image_id "$tag")
	docker import \
		--change "LABEL org.execbox.recipe=$hash" \
		--change "ENV PATH=$EXECBOX_IMAGE_PATH" \
		--change "ENV LANG=C.UTF-8" \
		--change 'CMD ["bash"]' \
		"$tarball" "$tag" >/dev/null || die "docker import of $tag failed"
	image_current "$tag" "$hash" || die "image $tag lacks label org.execbox.recipe=$hash after import"
	drop_replaced "$tag" "$old"
	echo "$how"
}

# build_derived TAG INCLUDES builds TAG = base + INCLUDES (comma-separated
# packages) unless it is current. The base must be current. Prints "cached"
# or "built".
build_derived() {
	local tag=$1 include=$2 hash name cdir cname mirror opt
	hash=$(derived_recipe_hash "$include")
	if image_current "$tag" "$hash"; then
		echo cached
		return 0
	fi
	name=$(image_name "$tag")
	cdir=$EXECBOX_CACHE_DIR/apt/$name
	mkdir -p "$cdir/archives/partial" "$cdir/lists/partial"
	mirror=$(debian_mirror)
	local aptopts="-o APT::Keep-Downloaded-Packages=true -o Dpkg::Options::=--force-unsafe-io"
	while IFS= read -r opt; do aptopts+=" -o $opt"; done < <(host_apt_opts)
	cname=execbox-build-$name-$$
	docker rm -f "$cname" >/dev/null 2>&1 || true
	log "apt-get install ${include//,/ } on $EXECBOX_BASE_IMAGE -> $tag"
	# Host network: the build container fetches from the mirror exactly as the
	# host's apt does (dockerd runs without a bridge). Settings go in as
	# arguments, not -e, because `docker commit` would keep them in the image's
	# environment; the cache volumes are not part of the committed image.
	docker run --name "$cname" --network host \
		-v "$cdir/archives:/var/cache/apt/archives" \
		-v "$cdir/lists:/var/lib/apt/lists" \
		"$EXECBOX_BASE_IMAGE" sh -euc '
			mirror=$1 suite=$2 pkgs=$3 aptopts=$4
			export DEBIAN_FRONTEND=noninteractive
			echo "deb $mirror $suite main" >/etc/apt/sources.list
			apt-get $aptopts -qq update
			apt-get $aptopts -qq install -y --no-install-recommends $pkgs >/dev/null
			: >/etc/apt/sources.list
			rm -f /var/cache/apt/*.bin /var/log/apt/*.log /var/log/dpkg.log
		' sh "$mirror" "$EXECBOX_IMAGE_SUITE" "${include//,/ }" "$aptopts" >&2 ||
		{
			docker rm -f "$cname" >/dev/null 2>&1 || true
			die "installing $include for $tag failed"
		}
	local old
	old=$(image_id "$tag")
	docker commit \
		--change "LABEL org.execbox.recipe=$hash" \
		--change 'CMD ["bash"]' \
		"$cname" "$tag" >/dev/null || die "docker commit of $tag failed"
	docker rm "$cname" >/dev/null
	image_current "$tag" "$hash" || die "image $tag lacks label org.execbox.recipe=$hash after commit"
	drop_replaced "$tag" "$old"
	echo built
}

# build_images makes the base, then every image in SANDBOX_IMAGES in parallel
# (downloads and dpkg overlap well even on 2 cores), with one summary line per
# image. Up-to-date images are checked inline, without subshells or logs.
build_images() {
	local logdir=$EXECBOX_CACHE_DIR/logs t0 s how
	mkdir -p "$logdir"
	t0=$(now_ms)
	if image_current "$EXECBOX_BASE_IMAGE" "$(base_recipe_hash)"; then
		log "image $EXECBOX_BASE_IMAGE: cached"
	else
		s=$(now_ms)
		how=$(build_base 2>"$logdir/$(image_name "$EXECBOX_BASE_IMAGE").log") ||
			{
				tail -n 30 "$logdir/$(image_name "$EXECBOX_BASE_IMAGE").log" >&2 || true
				die "building $EXECBOX_BASE_IMAGE failed (log: $logdir/$(image_name "$EXECBOX_BASE_IMAGE").log)"
			}
		log "image $EXECBOX_BASE_IMAGE: $how in $(secs_since "$s")s"
	fi
	local -a pids=() tags=() logs=()
	local entry tag include lf
	for entry in "${SANDBOX_IMAGES[@]}"; do
		tag=${entry%%=*}
		include=${entry#*=}
		if image_current "$tag" "$(derived_recipe_hash "$include")"; then
			log "image $tag: cached"
			continue
		fi
		lf=$logdir/$(image_name "$tag").log
		(
			s=$(now_ms)
			how=$(build_derived "$tag" "$include" 2>"$lf")
			log "image $tag: $how in $(secs_since "$s")s"
		) &
		pids+=("$!")
		tags+=("$tag")
		logs+=("$lf")
	done
	local i failed=0
	for i in "${!pids[@]}"; do
		if ! wait "${pids[$i]}"; then
			failed=1
			echo "---- ${logs[$i]} (last 30 lines) ----" >&2
			tail -n 30 "${logs[$i]}" >&2 || true
			log "image ${tags[$i]}: FAILED"
		fi
	done
	[[ $failed -eq 0 ]] || die "building sandbox images failed (logs in $logdir)"
	log "images ready in $(secs_since "$t0")s"
}
