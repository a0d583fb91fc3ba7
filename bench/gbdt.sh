#!/usr/bin/env bash
# bench/gbdt.sh — kiln's gradient-boosted trees (algorithm = "gbdt") beside
# XGBoost's hist method with the same trees, depth, learning rate, lambda,
# min_child_weight and 256 bins, both on 2 threads, on the same NPY splits:
# digits, breast_cancer and loans (the examples' own features targets) and a
# generated 200,000 x 100 set (80/20 split). For each: test accuracy, the
# median training time of KILN_BENCH_RUNS runs (kiln's from the train
# step's log, and the whole `kiln build` of the model), and prediction
# throughput: kiln-serve over HTTP (JSON batches of up to 1,000 rows, as
# many as fit its 1 MiB body limit, one keep-alive connection), and kiln's
# forest in process (kp_model_predict, one thread, what kiln-serve calls),
# beside xgboost's inplace_predict in process (2 threads). Then leaf-wise
# trees (leaves = KILN_BENCH_LEAVES) beside XGBoost's lossguide policy with
# as many max_leaves: accuracy and training time.
#
#   bench/gbdt.sh                (after `make`; installs nothing)
#   KILN_BENCH_ROWS=50000        a smaller generated set
#   KILN_BENCH_RUNS=5            runs per median
#   KILN_BENCH_TREES=100 KILN_BENCH_DEPTH=6 KILN_BENCH_LR=0.1
#   KILN_BENCH_LEAVES=31         leaves of the leaf-wise trees (LightGBM's default)
#
# Needs Debian's python3-xgboost and python3-sklearn (apt-get install
# python3-xgboost python3-sklearn); it says so and stops without them.
# Numbers, not a test: other work on the machine shows in them, so the
# load average is printed before and after.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
rows=${KILN_BENCH_ROWS:-200000}
runs=${KILN_BENCH_RUNS:-5}
trees=${KILN_BENCH_TREES:-100}
depth=${KILN_BENCH_DEPTH:-6}
lr=${KILN_BENCH_LR:-0.1}
leaves=${KILN_BENCH_LEAVES:-31}
[ -x "$top/build/kiln" ] && [ -x "$top/build/kiln-serve" ] || { echo "build kiln first: make" >&2; exit 1; }
if ! $py -c 'import xgboost, sklearn' 2>/dev/null; then
	echo "skipped: needs python3-xgboost and python3-sklearn (apt-get install python3-xgboost python3-sklearn)"
	exit 0
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-gbdt.XXXXXX")
trap 'rm -rf "$work"' EXIT
export KILN_CACHE_DIR=$work/cache
# A copy of kiln, kiln-serve and the plugins: a rebuild meanwhile changes nothing here.
mkdir -p "$work/kiln/plugins"
cp "$top/build/kiln" "$top/build/kiln-run" "$top/build/kiln-serve" "$work/kiln/"
cp "$top"/build/plugins/*.so "$work/kiln/plugins/"
kiln=$work/kiln/kiln
cd "$work"
# kiln's prediction in process: the median of runs over the test rows.
cat > predict.c <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "plugins/lib/model.h"
#include "plugins/lib/npy.h"
#include "plugins/lib/util.h"
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
int main(int argc, char **argv) {
	struct kp_array X; struct kp_model m; char err[KP_ERRLEN]; struct timespec a, b; double r[99];
	int runs = atoi(argv[3]), i;
	if (kp_npy_read(argv[2], &X, err) < 0 || kp_model_load_dir(&m, argv[1], err) < 0) { fprintf(stderr, "%s\n", err); return 1; }
	int64_t *pred = malloc(X.shape[0] * sizeof(int64_t)); float *pr = malloc(X.shape[0] * (m.nclasses + 1) * sizeof(float));
	for (i = 0; i < runs && i < 99; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		kp_model_predict(&m, X.data, X.shape[0], pred, pr);
		clock_gettime(CLOCK_MONOTONIC, &b);
		r[i] = X.shape[0] / (b.tv_sec - a.tv_sec + (b.tv_nsec - a.tv_nsec) * 1e-9);
	}
	qsort(r, i, sizeof(double), cmp);
	printf("%.0f\n", r[i / 2]);
	return 0;
}
C
cc -O2 -I"$top" -o predict predict.c "$top/build/libkilnplug.a" \
	-L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lcsv -ljansson -lm -lpthread

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "xgboost $($py -c 'import xgboost; print(xgboost.__version__)'), $trees trees, depth $depth, lr $lr, 2 threads, median of $runs"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# The examples' data through their own features targets; the generated set
# like bench/train.sh's.
for ex in digits:digits_feat breast_cancer:bc_feat loans:loans_feat; do
	d=${ex%%:*}
	cp -r "$top/examples/$d" "$d"
	rm -rf "$d/kiln-out" "$d/.kiln" "$d/Kilnfile.lock"
	"$kiln" -C "$d" build "${ex#*:}" >/dev/null
	cp -r "$d/kiln-out/${ex#*:}" "$d/feat"
done
mkdir -p large
$py - "$rows" <<'P'
import json, sys
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
X, y = make_classification(n_samples=int(sys.argv[1]), n_features=100, n_informative=40, n_redundant=20,
                           n_classes=2, class_sep=0.8, flip_y=0.02, random_state=0)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
np.save("large/X_train.npy", Xtr.astype("<f4"))
np.save("large/X_test.npy", Xte.astype("<f4"))
np.save("large/y_train.npy", ytr.astype("<i8"))
np.save("large/y_test.npy", yte.astype("<i8"))
# Columns that kiln-serve passes through as they are.
json.dump({"classes": ["0", "1"], "columns": [{"source": "x%d" % i, "kind": "numeric", "center": 0,
           "scale": 1} for i in range(X.shape[1])]}, open("large/transform.json", "w"))
P
mkdir -p large/feat && mv large/*.npy large/*.json large/feat/

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# kiln_side DIR [LEAVES]: "accuracy fit-median build-median" of the gbdt
# model on DIR/feat, depth-wise, or leaf-wise to LEAVES leaves.
kiln_side() {
	local dir=$1 grow="depth = $depth" i t0 t1
	[ -n "${2:-}" ] && grow="leaves = $2"
	cat > "$dir/Kilnfile.gbdt" <<K
model "gb" { features = "feat", algorithm = "gbdt", trees = $trees, $grow, lr = $lr, threads = 2 }
test "gb_test" { model = ":gb", features = "feat" }
K
	mv "$dir/Kilnfile.gbdt" "$dir/Kilnfile"
	: > "$dir/fit.txt"
	: > "$dir/build.txt"
	for i in $(seq "$runs"); do
		rm -rf "$dir/kiln-out/gb" "$KILN_CACHE_DIR"
		t0=$(date +%s.%N)
		"$kiln" -C "$dir" build gb >/dev/null
		t1=$(date +%s.%N)
		echo "$t1 - $t0" | bc -l >> "$dir/build.txt"
		sed -n 's/^trained .* in \([0-9.]*\) s: .*/\1/p' "$dir/.kiln/logs/gb.log" >> "$dir/fit.txt"
	done
	"$kiln" -C "$dir" build gb_test >/dev/null
	echo "$($py -c "import json; print(json.load(open('$dir/kiln-out/gb_test/metrics.json'))['metrics']['accuracy'])") $(median < "$dir/fit.txt") $(median < "$dir/build.txt")"
}

# xgb_side DIR [LEAVES]: "accuracy fit-median inplace_predict-rows/s";
# with LEAVES, grow_policy "lossguide" with max_leaves (kiln's depth cap, 16).
xgb_side() {
	$py - "$1/feat" "$runs" "$trees" "$depth" "$lr" "${2:-0}" <<'P'
import statistics, sys, time
import numpy as np, xgboost as xgb
d, runs, trees, depth, lr = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
leaves = int(sys.argv[6])
grow = dict(grow_policy="lossguide", max_leaves=leaves, max_depth=16) if leaves else dict(max_depth=depth)
X, y = np.load(d + "/X_train.npy"), np.load(d + "/y_train.npy")
Xt, yt = np.load(d + "/X_test.npy"), np.load(d + "/y_test.npy")
k = int(y.max()) + 1
times = []
for _ in range(runs):
    clf = xgb.XGBClassifier(tree_method="hist", n_estimators=trees, **grow, learning_rate=lr,
                            n_jobs=2, max_bin=256, reg_lambda=1.0, min_child_weight=1,
                            objective="binary:logistic" if k == 2 else "multi:softprob")
    t = time.perf_counter()
    clf.fit(X, y)
    times.append(time.perf_counter() - t)
acc = (clf.predict(Xt) == yt).mean()
b = clf.get_booster()
rates = []
for _ in range(runs):
    t = time.perf_counter()
    b.inplace_predict(Xt)
    rates.append(len(Xt) / (time.perf_counter() - t))
print(acc, statistics.median(times), statistics.median(rates))
P
}

# serve_side DIR: kiln-serve's rows/s on DIR's test rows, median of runs.
serve_side() {
	local dir=$1 port pid rate
	port=$($py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	"$work/kiln/kiln-serve" --model "$dir/kiln-out/gb" --name gb --port "$port" >"$dir/serve.log" 2>&1 &
	pid=$!
	rate=$($py - "$port" "$dir/feat" "$runs" <<'P'
import http.client, json, statistics, sys, time
import numpy as np
port, d, runs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(100):
    try:
        h = http.client.HTTPConnection("127.0.0.1", port)
        h.request("GET", "/healthz")
        h.getresponse().read()
        break
    except OSError:
        time.sleep(0.1)
c = http.client.HTTPConnection("127.0.0.1", port)
X = np.load(d + "/X_test.npy")
# Batches of up to 1,000 rows under kiln-serve's 1 MiB body limit.
per = max(1, min(1000, 900000 // (len(json.dumps(X[:10].tolist())) // 10 + 1)))
bodies = [json.dumps({"instances": X[i:i + per].tolist()}).encode() for i in range(0, len(X), per)]
rates = []
for _ in range(runs):
    t = time.perf_counter()
    for b in bodies:
        c.request("POST", "/v1/models/gb:predict", body=b, headers={"Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
    rates.append(len(X) / (time.perf_counter() - t))
print(statistics.median(rates))
P
)
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	echo "$rate"
}

printf '%-30s %8s %8s %8s %8s %7s %9s %7s %11s %11s %11s\n' "data (train rows x features)" "kiln acc" "xgb acc" \
	"kiln fit" "xgb fit" speedup "kiln all" speedup "serve row/s" "kiln row/s" "xgb row/s"
for d in digits breast_cancer loans large; do
	read -r ka kf kb < <(kiln_side "$d")
	read -r xa xf xr < <(xgb_side "$d")
	shape=$($py -c "import numpy as np; print('%d x %d' % np.load('$d/feat/X_train.npy', mmap_mode='r').shape)")
	# kiln-serve takes raw columns through the transform: the examples with
	# one-hot columns (loans) need strings, so only numeric sets are served.
	sr=-
	[ "$d" = loans ] || sr=$(printf '%.0f' "$(serve_side "$d")")
	kr=$(./predict "$d/kiln-out/gb" "$d/feat/X_test.npy" "$runs")
	printf '%-30s %8.4f %8.4f %7.3fs %7.3fs %6.2fx %8.3fs %6.2fx %11s %11s %11.0f\n' "$d ($shape)" "$ka" "$xa" \
		"$kf" "$xf" "$(echo "$xf / $kf" | bc -l)" "$kb" "$(echo "$xf / $kb" | bc -l)" "$sr" "$kr" "$xr"
done
echo
echo "leaf-wise: kiln leaves = $leaves (depth at most 16) beside xgboost grow_policy=\"lossguide\", max_leaves=$leaves, max_depth=16"
printf '%-30s %8s %8s %8s %8s %7s\n' "data (train rows x features)" "kiln acc" "xgb acc" "kiln fit" "xgb fit" speedup
for d in digits breast_cancer loans large; do
	read -r ka kf kb < <(kiln_side "$d" "$leaves")
	read -r xa xf xr < <(xgb_side "$d" "$leaves")
	shape=$($py -c "import numpy as np; print('%d x %d' % np.load('$d/feat/X_train.npy', mmap_mode='r').shape)")
	printf '%-30s %8.4f %8.4f %7.3fs %7.3fs %6.2fx\n' "$d ($shape)" "$ka" "$xa" "$kf" "$xf" "$(echo "$xf / $kf" | bc -l)"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "fit: training alone (kiln: the train step's log; xgboost: fit()); kiln all: the whole kiln build"
echo "of the model (process, sandbox, loading, writing) against xgboost's fit(); serve: kiln-serve, HTTP"
echo "and JSON end to end; kiln row/s: kp_model_predict in process, 1 thread; xgb: inplace_predict, 2 threads."
