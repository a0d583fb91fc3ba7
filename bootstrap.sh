#!/bin/sh
# bootstrap.sh — install what kiln and its tests need (Debian, apt-get), then build.
# Run it as root or with sudo available. Run twice, it changes nothing and is quick.
set -eu
cd "$(dirname "$0")"

# Libraries kiln links, and what its tests, benchmarks and `make fuzz` start or compare with.
PACKAGES="
build-essential pkg-config
liblua5.4-dev libxxhash-dev libjansson-dev libcsv-dev libopenblas-dev
libseccomp-dev libcurl4-openssl-dev libexpat1-dev libarchive-dev libmicrohttpd-dev libssl-dev libzstd-dev zstd
libcmocka-dev
ninja-build hyperfine time python3 python3-numpy python3-sklearn python3-torch
nginx-light faketime diffoscope-minimal
podman runc skopeo umoci docker-registry wrk python3-yaml apache2-utils
slurm-wlm munge
clang libclang-rt-14-dev xxhash strace procps git
chromium
"

missing=""
for p in $PACKAGES; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bootstrap: installing:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

# kiln report's page embeds vega, vega-lite and vega-embed, and its browser
# test drives chromium with playwright-core: npm packages pinned by
# report/package-lock.json, installed only when the lock file changed.
if ! command -v npm >/dev/null; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
if ! cmp -s report/package-lock.json report/node_modules/.kiln-installed 2>/dev/null; then
	echo "bootstrap: npm ci in report/"
	npm ci --prefix report --no-audit --no-fund --loglevel=error
	cp report/package-lock.json report/node_modules/.kiln-installed
fi
# The tests' S3-API server (s3rver, which checks Signature V4 signatures),
# pinned by tests/s3/package-lock.json, installed the same way.
if ! cmp -s tests/s3/package-lock.json tests/s3/node_modules/.kiln-installed 2>/dev/null; then
	echo "bootstrap: npm ci in tests/s3/"
	npm ci --prefix tests/s3 --no-audit --no-fund --loglevel=error
	cp tests/s3/package-lock.json tests/s3/node_modules/.kiln-installed
fi

make -j"$(nproc)"
