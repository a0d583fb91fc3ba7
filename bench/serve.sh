#!/usr/bin/env bash
# bench/serve.sh — kiln-serve's throughput and latency under wrk.
#
# Builds the iris example in a scratch folder, starts kiln-serve on a free
# loopback port, and runs wrk (Debian's, 4.1) for DURATION seconds at 1 and
# at 64 connections, each request a one-instance POST :predict. Prints
# requests per second and the p50/p99 latency wrk measured. wrk reports
# latency in microseconds with two decimals (its histogram resolution is
# 1 µs); the figures are those of one run on this machine.
#
#   bench/serve.sh [DURATION]          default 10 seconds per run
#   KILN_BUILD=DIR                     the build to measure (default build/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${KILN_BUILD:-$top/build}
dur=${1:-10}
command -v wrk >/dev/null || { echo "bench/serve.sh: wrk is not installed (apt-get install wrk)"; exit 2; }
scratch=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$scratch"' EXIT
cp -r "$top/examples/iris/." "$scratch/"
cd "$scratch"
rm -rf kiln-out .kiln Kilnfile.lock
export KILN_CACHE_DIR=$scratch/cache
"$build/kiln" build -q iris_softmax
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
threads=$(nproc)
[ "$threads" -gt 16 ] && threads=16
"$build/kiln-serve" --model kiln-out/iris_softmax --host 127.0.0.1 --port "$port" \
	--threads "$threads" 2>serve.log &
pid=$!
for i in $(seq 100); do
	curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
cat >post.lua <<'L'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.requests))
end
L
echo "kiln-serve, iris softmax, 1 instance per request, ${dur}s per run, $(nproc) CPUs, $threads server threads"
printf '%-12s %12s %14s %14s %8s\n' connections req/s "p50 (µs)" "p99 (µs)" errors
for c in 1 64; do
	t=$((c < 4 ? c : 4))
	line=$(wrk -t"$t" -c"$c" -d"${dur}s" -s post.lua "http://127.0.0.1:$port/v1/models/iris_softmax:predict" | grep '^RESULT')
	set -- $line
	printf '%-12s %12s %14s %14s %8s\n' "$c" "$2" "$3" "$4" "$5"
done
