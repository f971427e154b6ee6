#!/usr/bin/env bash
# Builds the /docs playground: bundles src/ (CodeMirror 6 and the page's
# code) with esbuild into one minified file that the gateway embeds, so a
# `go build` needs no npm and the page works offline.
#
#   roles/gateway/playground/build.sh          rebuild dist/playground.js
#   roles/gateway/playground/build.sh OUT      build into OUT (the test that
#                                              the committed bundle is current)
#   roles/gateway/playground/build.sh --deps   install the npm packages only,
#                                              print their directory
#
# The packages are exactly package-lock.json's, installed with `npm ci` into
# a cache directory named after the lock file's hash (never into the
# repository): $EXECBOX_PLAYGROUND_NODE_DIR, default
# ${EXECBOX_CACHE_DIR:-/var/cache/execbox}/npm/playground-HASH.
# The same lock and sources always give the same bytes.
set -euo pipefail

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
hash=$(sha256sum "$dir/package-lock.json" | cut -c1-16)
node_dir=${EXECBOX_PLAYGROUND_NODE_DIR:-${EXECBOX_CACHE_DIR:-/var/cache/execbox}/npm/playground-$hash}
esbuild=$node_dir/node_modules/.bin/esbuild

if [[ ! -x $esbuild ]] || ! cmp -s "$dir/package-lock.json" "$node_dir/package-lock.json"; then
	command -v npm >/dev/null || {
		echo "build.sh: npm is needed (apt-get install npm)" >&2
		exit 1
	}
	mkdir -p "$node_dir"
	cp "$dir/package.json" "$dir/package-lock.json" "$node_dir/"
	(cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error >&2) || {
		echo "build.sh: npm ci failed in $node_dir" >&2
		exit 1
	}
fi
if [[ ${1:-} == --deps ]]; then
	echo "$node_dir"
	exit 0
fi

out=${1:-$dir/dist/playground.js}
mkdir -p "$(dirname "$out")"
# --supported:inline-script keeps "</script" out of the output (escaped), so
# the gateway can inline it into the HTML page.
cd "$dir"
NODE_PATH=$node_dir/node_modules "$esbuild" src/main.js \
	--bundle --minify --format=iife --target=es2020 --charset=utf8 \
	--legal-comments=eof --log-level=warning --outfile="$out"
