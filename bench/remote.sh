#!/usr/bin/env bash
# bench/remote.sh [SIZE_MiB] [SMALL_COUNT] — kiln push and kiln pull against
# curl doing the same transfers to the same nginx (WebDAV) on loopback:
#
#   one large artifact (default 1024 MiB): kiln push (HEAD, then PUT) beside
#   `curl -T`; kiln pull (GET, hashed as it arrives, renamed into the cache)
#   beside `curl -o`;
#   many small blobs (default 10,000 of 1 KiB, one target's output folder):
#   kiln push/pull (16 at a time) beside `curl --parallel --parallel-max 16`.
#   (kiln push sends blobs under 64 KiB without asking with HEAD first, and
#   larger ones only when HEAD says the server lacks them.)
#
# Each figure is the best of 5 runs (RUNS=N to change), kiln's and curl's
# interleaved, each after a sync; seconds of wall clock, ms resolution.
# (These transfers are sent uncompressed: KILN_REMOTE_ZSTD_MIN=off.)
#
# Then, through a latency shim that holds each request 50 ms (tests/cli/shim.py,
# in front of the same nginx), a clean clone with Kilnfile.lock building
# TARGETS targets (default 1,000: 50 chains of 20), all hits:
#   kiln build beside `curl --parallel --parallel-max 16` fetching the same
#   entries and blobs (the URLs the shim saw kiln ask for), and beside the
#   kiln of KILN_OLD (default /work/main/build/kiln, if there: one lookup
#   after another) when OLD=1; requests counted in the shim's log;
#   --download=minimal naming one final target: bytes on the wire against all;
# and zstd: bytes on the wire and time for the digits and loans examples'
# outputs, uploaded and downloaded compressed and not.
#
# Then the same all-hit clean clone (TARGETS) from nginx and from the tests'
# S3 server (tests/s3), beside each other, on loopback without the shim.
#
# WHAT=transfer|latency|zstd|s3 runs one part (default: all four).
# Benchmarks print numbers; they are not tests. Needs nginx and curl.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
mib=${1:-1024}
small=${2:-10000}
runs=${RUNS:-5}
work=$(mktemp -d /tmp/kiln-bench-remote.XXXXXX)
chmod 755 "$work"
cleanup_hooks=()
at_exit() { cleanup_hooks+=("$1"); }
fail() { echo "bench/remote.sh: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
trap 'for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do eval "$h" || true; done; chmod -R u+w "$work"; rm -rf "$work"' EXIT
. "$top/tests/cli/nginx.sh"
start_nginx "$work/srv"
cd "$work"

now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.3f", e - s }'; }
# timed CMD…: the wall time of one run, after `reset` (a function, untimed)
# and a sync, so that one run's write-back does not land in another's time.
timed() {
	local s
	reset
	sync
	s=$(now)
	"$@" >/dev/null 2>&1 || fail "failed: $*"
	since "$s"
}
# pair NAME_A NAME_B -- CMD_A… -- CMD_B…: run A and B in turn $runs times
# (interleaved, so both meet the same conditions) and set $ta and $tb to
# the best time of each.
pair() {
	local i a=() b=() t
	shift 3
	while [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	b=("$@")
	ta=1e9 tb=1e9
	for i in $(seq $runs); do
		t=$(timed "${a[@]}"); ta=$(awk -v x="$t" -v y="$ta" 'BEGIN { print (x < y ? x : y) }')
		t=$(timed "${b[@]}"); tb=$(awk -v x="$t" -v y="$tb" 'BEGIN { print (x < y ? x : y) }')
	done
}
best() {
	local i t b=1e9
	for i in $(seq $runs); do
		t=$(timed "$@"); b=$(awk -v x="$t" -v y="$b" 'BEGIN { print (x < y ? x : y) }')
	done
	printf '%.3f' "$b"
}
row() { printf '%-44s %9.3f s  %s\n' "$1" "$2" "${3:-}"; }
ratio() { awk -v k="$1" -v c="$2" 'BEGIN { printf "kiln/curl %.2fx", k / c }'; }
clear_server() { rm -rf "$work/srv/data/"*; }

what=${WHAT:-all}
transfer_part() {
export KILN_REMOTE_ZSTD_MIN=off
mkdir ws
cd ws
export KILN_CACHE_DIR=$work/cache
cat > Kilnfile <<K
command "big" { cmd = "head -c ${mib}M /dev/urandom > {out}/big.bin", outputs = { "big.bin" } }
command "many" {
  cmd = "/usr/bin/python3 -c 'import os,sys; d=sys.argv[1]+\"/d\"; os.mkdir(d); [open(\"%s/%05d\" % (d, i), \"wb\").write(os.urandom(1024)) for i in range($small)]' {out}",
  outputs = { "d" },
}
K
"$KILN" build -q
# The outputs were written in the same clock tick as their record, so the
# next kiln re-hashes them (racily clean); one more build records settled
# stats, and the timings below are of transfers, not of hashing 1 GiB.
sleep 1
"$KILN" build -q
blob=$(awk '$1 == "big" && $2 == "out" { print $4 }' Kilnfile.lock)
big=kiln-out/big/big.bin
cat "$big" > /dev/null
echo "nginx $(nginx -v 2>&1 | sed 's/.*\///') on $(echo "$remote" | sed 's,http://,,'), curl $(curl --version | head -1 | cut -d' ' -f2); best of $runs runs"
echo
echo "one artifact of $mib MiB"
reset() { clear_server; }
pair kiln curl -- "$KILN" push --remote "$remote" big -- curl -sf -T "$big" "$remote/curl/big.bin"
kp=$ta cp_=$tb
row "push: kiln push" "$kp" "$(ratio "$kp" "$cp_")"
row "push: curl -T" "$cp_"
# Pull: kiln into an empty local cache; curl into a file, both from the server's copy.
"$KILN" push --remote "$remote" big >/dev/null
curl -sf -T "$big" "$remote/curl/big.bin"
# A clone with nothing built, so that pull has everything to fetch.
mkdir "$work/clone"
cp Kilnfile "$work/clone/"
pull() { (cd "$work/clone" && KILN_CACHE_DIR=$work/pullcache "$KILN" pull --remote "$remote" "$@"); }
reset() { rm -rf "$work/pullcache" "$work/curl.out"; }
pair kiln curl -- pull big -- curl -sf -o "$work/curl.out" "$remote/cas/$blob"
kl=$ta cl=$tb
row "pull: kiln pull (GET, hash, rename)" "$kl" "$(ratio "$kl" "$cl")"
row "pull: curl -o" "$cl"

echo
echo "$small blobs of 1 KiB (one target's folder), 16 transfers at a time"
clear_server
ls kiln-out/many/d | awk -v r="$remote" -v d="$PWD/kiln-out/many/d" '{ printf "upload-file = \"%s/%s\"\nurl = \"%s/curl/%s\"\n", d, $1, r, $1 }' > "$work/put.cfg"
awk '$1 == "many" && $2 == "out" { print $4 }' Kilnfile.lock | awk -v r="$remote" -v o="$work/got" '{ printf "url = \"%s/cas/%s\"\noutput = \"%s/%s\"\n", r, $1, o, $1 }' > "$work/get.cfg"
reset() { clear_server; }
pair kiln curl -- "$KILN" push --remote "$remote" many -- curl -sf --parallel --parallel-max 16 -K "$work/put.cfg"
ks=$ta cs=$tb
row "push: kiln push (PUT each)" "$ks" "$(ratio "$ks" "$cs")"
row "push: curl --parallel (PUT each)" "$cs"
reset() { :; }
"$KILN" push --remote "$remote" many >/dev/null
ka=$(best "$KILN" push --remote "$remote" many)
row "push again: kiln push (entry already there)" "$ka"
reset() { rm -rf "$work/pullcache" "$work/got"; mkdir -p "$work/got"; }
pair kiln curl -- pull many -- curl -sf --parallel --parallel-max 16 -K "$work/get.cfg"
kls=$ta cls=$tb
row "pull: kiln pull (GET, hash, rename each)" "$kls" "$(ratio "$kls" "$cls")"
row "pull: curl --parallel (GET each)" "$cls"
unset KILN_REMOTE_ZSTD_MIN
cd "$work"
}

# start_shim DELAY_MS LOG: the latency shim in front of nginx; sets $shim.
start_shim() {
	local port i
	port=$(free_port)
	python3 "$top/tests/cli/shim.py" "$port" "$remote" "$1" "$2" &
	at_exit "kill $! 2>/dev/null"
	shim=http://127.0.0.1:$port
	for i in $(seq 100); do curl -s -o /dev/null "$shim/" && return 0; sleep 0.05; done
	fail "the shim did not start"
}
# wire LOG: the "N down" figure of kiln's remote line in a build's output.
wire() { sed -n 's/.*; \(.*\) down, .* up on the wire.*/\1/p' "$1"; }

# chains_kilnfile N: a Kilnfile of N targets, 50 chains of N/50, in the current folder.
chains_kilnfile() {
	local chains=50 len=$(($1 / 50)) c i
	for c in $(seq 1 $chains); do
		echo "command \"c${c}_0\" { cmd = \"seq $c $((c + 300)) > {out}/v\", outputs = { \"v\" } }"
		for i in $(seq 1 $((len - 1))); do
			echo "command \"c${c}_$i\" { inputs = { p = \":c${c}_$((i - 1))\" }, cmd = \"sed 1d {in.p}/v > {out}/v; echo $i >> {out}/v\", outputs = { \"v\" } }"
		done
	done > Kilnfile
}

latency_part() {
	local n=${TARGETS:-1000} chains len ks cs lookups blobs
	chains=50
	len=$((n / chains))
	mkdir -p "$work/lat" && cd "$work/lat"
	export KILN_CACHE_DIR=$work/latcache
	chains_kilnfile "$n"
	"$KILN" build -q -j2 --remote "$remote" || fail "the first build failed"
	start_shim 50 "$work/shim.log"
	clone() { rm -rf "$work/latc" "$work/latc-cache"; mkdir "$work/latc"; cp Kilnfile Kilnfile.lock "$work/latc/"; }
	echo
	echo "$n targets ($chains chains of $len), all hits, through a 50 ms round-trip shim; one run each"
	clone
	: > "$work/shim.log"
	s=$(now)
	(cd "$work/latc" && KILN_CACHE_DIR=$work/latc-cache "$KILN" build --remote "$shim" > "$work/lat.out" 2>&1) || fail "the build through the shim failed"
	ks=$(since "$s")
	grep -q " 0 ran, $n restored" "$work/lat.out" || fail "not all hits: $(tail -2 "$work/lat.out")"
	lookups=$(grep -c '^GET /ac/' "$work/shim.log")
	blobs=$(grep -c '^GET /cas' "$work/shim.log")
	awk -v s="$shim" -v o="$work/curlgot" '$1 == "GET" { n++; printf "url = \"%s%s\"\noutput = \"%s/%d\"\n", s, $2, o, n }' "$work/shim.log" > "$work/lat.cfg"
	rm -rf "$work/curlgot"; mkdir "$work/curlgot"
	s=$(now)
	curl -s --no-progress-meter --parallel --parallel-max 16 -K "$work/lat.cfg" || fail "curl failed"
	cs=$(since "$s")
	row "kiln build ($lookups lookups, $blobs blob GETs)" "$ks" "$(ratio "$ks" "$cs")"
	row "curl --parallel-max 16, the same $((lookups + blobs)) GETs" "$cs"
	if [ "${OLD:-0}" = 1 ] && [ -x "${KILN_OLD:-/work/main/build/kiln}" ]; then
		clone
		: > "$work/shim.log"
		s=$(now)
		(cd "$work/latc" && KILN_CACHE_DIR=$work/latc-cache "${KILN_OLD:-/work/main/build/kiln}" build --remote "$shim" > "$work/old.out" 2>&1) || fail "the old kiln failed"
		row "before (${KILN_OLD:-/work/main/build/kiln}: $(grep -c . "$work/shim.log") requests, one at a time)" "$(since "$s")"
	fi
	# --download=minimal against all: the whole graph (the 50 chains' last targets are the final ones), and one final target named.
	minimal() { clone; (cd "$work/latc" && KILN_CACHE_DIR=$work/latc-cache "$KILN" build --remote "$shim" "$@" > "$work/min.out" 2>&1) || fail "the build $* failed"; wire "$work/min.out"; }
	echo "every target: --download=minimal $(minimal --download=minimal) on the wire, --download=all $(wire "$work/lat.out")"
	echo "one final target (c1_$((len - 1))): --download=minimal $(minimal --download=minimal "c1_$((len - 1))"), --download=all $(minimal --download=all "c1_$((len - 1))")"
	cd "$work"
}

zstd_part() {
	local ex z t up down
	echo
	echo "zstd on the wire (nginx on loopback, no shim): the examples' outputs, one run each"
	for ex in ${EXAMPLES:-digits loans}; do
		for z in off 4096; do
			rm -rf "$work/z" "$work/zc" "$work/zcache" "$work/zcache2" "$work/srv/data/"*
			cp -r "$top/examples/$ex" "$work/z"
			rm -rf "$work/z/kiln-out" "$work/z/.kiln" "$work/z/Kilnfile.lock"
			(cd "$work/z" && KILN_REMOTE_ZSTD_MIN=$z KILN_CACHE_DIR=$work/zcache "$KILN" build -q && KILN_REMOTE_ZSTD_MIN=$z KILN_CACHE_DIR=$work/zcache "$KILN" push --remote "$remote" > "$work/zpush.out" 2>&1) || fail "$ex: build or push failed"
			up=$(du -sb "$work/srv/data" | cut -f1)
			cp -r "$work/z" "$work/zc"
			rm -rf "$work/zc/kiln-out" "$work/zc/.kiln"
			s=$(now)
			(cd "$work/zc" && KILN_REMOTE_ZSTD_MIN=$z KILN_CACHE_DIR=$work/zcache2 "$KILN" build --remote "$remote" > "$work/zbuild.out" 2>&1) || fail "$ex: the clone failed"
			t=$(since "$s")
			printf '%-8s zstd %-5s  on the server %10s bytes; a clone: %s on the wire, %s s\n' "$ex" "$([ $z = off ] && echo off || echo on)" "$up" "$(wire "$work/zbuild.out")" "$t"
		done
	done
}

# The same all-hit clean clone from nginx and from the tests' S3 server
# (tests/s3: s3rver, every request signed and checked), on loopback, no shim.
s3_part() {
	local n=${TARGETS:-1000}
	scratch=$work
	. "$top/tests/cli/s3.sh"
	start_s3 "$work/s3" kiln-bench
	rm -rf "$work/s3b" && mkdir -p "$work/s3b" && cd "$work/s3b"
	chains_kilnfile "$n"
	KILN_CACHE_DIR=$work/s3cache "$KILN" build -q -j2 || fail "the first build failed"
	KILN_CACHE_DIR=$work/s3cache "$KILN" push --remote "$remote" >/dev/null 2>&1 || fail "the push to nginx failed"
	KILN_CACHE_DIR=$work/s3cache "$KILN" push --remote s3://kiln-bench/b >/dev/null 2>&1 || fail "the push to S3 failed"
	echo
	echo "$n targets, all hits, a clean clone with Kilnfile.lock, on loopback; best of $runs, interleaved"
	reset() { rm -rf "$work/s3c" "$work/s3c-cache"; mkdir "$work/s3c"; cp Kilnfile Kilnfile.lock "$work/s3c/"; }
	clone_from() { cd "$work/s3c" && KILN_CACHE_DIR=$work/s3c-cache "$KILN" build --remote "$1" > "$work/s3c.out" 2>&1 &&
		grep -q " 0 ran, $n restored" "$work/s3c.out"; }
	pair nginx s3 -- clone_from "$remote" -- clone_from s3://kiln-bench/b
	row "kiln build from nginx" "$ta"
	row "kiln build from S3 (s3rver, every request signed)" "$tb"
	cd "$work"
}

case $what in
all) transfer_part; latency_part; zstd_part; s3_part ;;
transfer) transfer_part ;;
latency) latency_part ;;
zstd) zstd_part ;;
s3) s3_part ;;
*) fail "WHAT: expected transfer, latency, zstd or s3, got '$what'" ;;
esac
