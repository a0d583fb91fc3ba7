# The remote 50 ms away (a latency shim in front of nginx): a clean clone
# with Kilnfile.lock builds 100 targets, all hits, with at most one lookup
# per target (counted in the shim's log), many in flight at once, the
# whole build far below the time one round trip per request would take.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
{
	for c in $(seq 0 9); do
		echo "command \"t${c}_0\" { cmd = \"echo $c > {out}/v\", outputs = { \"v\" } }"
		for i in $(seq 1 9); do
			echo "command \"t${c}_$i\" { inputs = { p = \":t${c}_$((i - 1))\" }, cmd = \"echo \$((\$(cat {in.p}/v) + $i)) > {out}/v\", outputs = { \"v\" } }"
		done
	done
} > Kilnfile
ok kiln build -j4 --remote "$remote"
ran 100
port=$(free_port)
/usr/bin/python3 "$top/tests/cli/shim.py" "$port" "$remote" 50 "$scratch/shim.log" &
shim_pid=$!
at_exit "kill $shim_pid 2>/dev/null"
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.05; done
: > "$scratch/shim.log"

mkdir ../clone
cp Kilnfile Kilnfile.lock ../clone/
cd ../clone
export KILN_CACHE_DIR=$scratch/cache2
start=$(date +%s.%N)
ok kiln build --remote "http://127.0.0.1:$port"
secs=$(echo "$(date +%s.%N) - $start" | bc)
ran 0
has "100 restored from the cache"
diff -r ../ws/kiln-out kiln-out || fail "the outputs differ"
# At most one lookup per target, and one GET per blob.
lookups=$(grep -c '^GET /ac/' "$scratch/shim.log")
blobs=$(grep -c '^GET /cas' "$scratch/shim.log")
[ "$lookups" -le 100 ] || fail "expected at most one lookup per target, the shim saw $lookups"
[ "$lookups" -eq 100 ] || fail "expected 100 lookups, the shim saw $lookups"
[ "$blobs" -le 100 ] || fail "expected at most one GET per blob, the shim saw $blobs"
# Concurrency, from the shim's log: the most requests in flight at one moment.
most=$(/usr/bin/python3 - "$scratch/shim.log" <<'P'
import sys
ev = []
for line in open(sys.argv[1]):
    m, p, code, a, b = line.split()
    ev += [(float(a), 1), (float(b), -1)]
n = best = 0
for _, d in sorted(ev):
    n += d
    best = max(best, n)
print(best)
P
)
[ "$most" -ge 8 ] || fail "expected many requests in flight at once, at most $most were"
# One request after another would take 200 x 50 ms = 10 s; in flight together, a fraction of it.
[ "$(echo "$secs < 6" | bc)" = 1 ] || fail "the all-hit build through 50 ms took ${secs}s"
echo "all-hit build through the 50 ms shim: ${secs}s, $lookups lookups, $blobs blob GETs, $most at once"
