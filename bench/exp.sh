#!/usr/bin/env bash
# bench/exp.sh [N] — kiln exp show over a run history of N records (default 10000).
#
# The history is written directly in .kiln/history's format (history.h: a
# header, then length-prefixed records in kiln's wire encoding, each checked
# by XXH3-64, computed here with libxxhash through ctypes): one target per run,
# six params (two of which vary) and four metrics, like a long sweep. Then
# `kiln exp show` (table), `--json`, `--sort=-accuracy` and a filter by
# target are timed, each the median of 5 with hyperfine when installed.
#
#   KILN=path/to/kiln   (default: ./build/kiln)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
n=${1:-10000}
work=$(mktemp -d /tmp/kiln-bench-exp.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
echo 'command "m" { cmd = "true", outputs = { "x" } }' > Kilnfile
mkdir .kiln
python3 - "$n" <<'P'
import ctypes, ctypes.util, json, struct, sys
lib = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
lib.XXH3_64bits.restype = ctypes.c_uint64
lib.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
def u32(v): return struct.pack("<I", v)
def s(t): b = t.encode(); return u32(len(b)) + b + b"\0"
n = int(sys.argv[1])
with open(".kiln/history", "wb") as f:
    f.write(b"KILNHI\0\0" + struct.pack("<II", 1, 0))
    for i in range(1, n + 1):
        params = {"algorithm": "softmax", "lr": (0.001, 0.01, 0.05, 0.1)[i % 4], "l2": (0, 1e-4, 1e-3)[i % 3],
                  "epochs": 200, "batch_size": 32, "seed": 7}
        metrics = {"accuracy": 0.9 + (i % 97) / 1000, "f1_macro": 0.88 + (i % 89) / 1000,
                   "log_loss": 0.3 - (i % 13) / 100, "rows": 1797}
        lines = "".join("%s %s\n" % (k, json.dumps(params[k])) for k in sorted(params))
        p = (struct.pack("<Qd", i, 1796108400.0 + i) + s("2026-12-01T07:00:00Z") + s("%040x" % (i * 7919)) +
             u32(i % 5 == 0) + u32(0) + u32(1) +
             s("wine_sm%d" % (i % 24)) + s("ran") + s("%032x" % i) +
             s(json.dumps(params, separators=(",", ":"), sort_keys=True)) + s(lines) +
             u32(len(metrics)) + b"".join(s(k) + struct.pack("<d", metrics[k]) for k in sorted(metrics)))
        f.write(u32(len(p)) + b"R" + p + struct.pack("<Q", lib.XXH3_64bits(b"R" + p, len(p) + 1)))
P
printf 'history: %d runs, %s bytes\n' "$n" "$(stat -c %s .kiln/history)"
"$KILN" exp show > table.txt
[ "$(wc -l < table.txt)" = $((n + 1)) ] || { echo "exp show printed $(wc -l < table.txt) lines"; exit 1; }
# wall: hyperfine's median of 5; cpu: user+system of the median run (the
# machine's other load moves the wall time, hardly the CPU time).
for args in "exp show" "exp show --json" "exp show --sort=-accuracy" "exp show wine_sm3"; do
	for i in 1 2 3 4 5; do
		/usr/bin/time -f "%e %U %S" -o t.$i "$KILN" $args >/dev/null
	done
	cat t.? | sort -n | sed -n 3p | awk -v a="$args" '{ printf "kiln %-28s wall %.2f s, cpu %.2f s (median of 5)\n", a, $1, $2 + $3 }'
done
if command -v hyperfine >/dev/null; then
	hyperfine -N -r 10 -w 2 "$KILN exp show" 2>/dev/null | grep -E 'Time|Range'
fi
