#!/usr/bin/env bash
# bench/train.sh — kiln's train plugin against scikit-learn on the same NPY
# splits: accuracy and training wall time side by side, on digits and on a
# generated 200,000 x 100 classification set, plus kiln's training GFLOP/s
# next to OpenBLAS's sgemm peak on this machine; then, with every default
# left alone, accuracy on each example's data beside scikit-learn's default
# LogisticRegression and MLPClassifier. (Gradient-boosted trees against
# XGBoost: bench/gbdt.sh.)
#
#   bench/train.sh              (after `make`)
#   KILN_BENCH_ROWS=50000       a smaller generated set
#   OPENBLAS_CORETYPE=SkylakeX  choose OpenBLAS's kernels (both sides see it)
#
# Times, each the best of three runs: "fit" is the training alone (kiln's
# from the train step's log, scikit-learn's fit()); "kiln all" is the wall
# time of the whole `kiln build` of the model (process start, sandbox,
# loading the NPY files, writing and caching the model), against
# scikit-learn's fit() still. Numbers, not a test: other work on the
# machine shows in them.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
kiln=$top/build/kiln
py=/usr/bin/python3
rows=${KILN_BENCH_ROWS:-200000}
[ -x "$kiln" ] || { echo "build kiln first: make" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export KILN_CACHE_DIR=$work/cache
# A copy of kiln and its plugins, so a rebuild of the tree meanwhile does
# not change what is measured.
mkdir -p "$work/kiln/plugins"
cp "$kiln" "$top/build/kiln-run" "$work/kiln/"
cp "$top"/build/plugins/*.so "$work/kiln/plugins/"
kiln=$work/kiln/kiln
cd "$work"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "scikit-learn $($py -c 'import sklearn; print(sklearn.__version__)'), numpy $($py -c 'import numpy; print(numpy.__version__)')"

# OpenBLAS sgemm peak: the best of 5 products of 2048 x 2048 matrices;
# then whether a product at the MLP's shapes (the 128-row sub-batch's
# forward and weight-gradient sgemm) has the same bits on 1 and 2 OpenBLAS
# threads, which is why kiln keeps OpenBLAS on one.
cat > peak.c <<'C'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
	int n = 2048, th = atoi(argv[1]), r;
	float *a = malloc(4L * n * n), *b = malloc(4L * n * n), *c = malloc(4L * n * n);
	double best = 0;
	for (long i = 0; i < (long)n * n; i++) a[i] = b[i] = (float)((i * 7919) % 1000) / 1000 - 0.5f;
	openblas_set_num_threads(th);
	for (r = 0; r < 6; r++) {
		double t = now(), g;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
		g = 2.0 * n * n * n / (now() - t) / 1e9;
		if (r && g > best) best = g;
	}
	printf("%s %.1f\n", openblas_get_corename(), best);
	for (r = 0; r < 2; r++) {
		int m = r ? 100 : 128, k = r ? 128 : 100, same;

		openblas_set_num_threads(1);
		cblas_sgemm(CblasRowMajor, r ? CblasTrans : CblasNoTrans, CblasNoTrans, m, 64, k, 1, a, r ? m : k, b, 64, 0, c, 64);
		openblas_set_num_threads(2);
		cblas_sgemm(CblasRowMajor, r ? CblasTrans : CblasNoTrans, CblasNoTrans, m, 64, k, 1, a, r ? m : k, b, 64, 0, c + m * 64, 64);
		same = memcmp(c, c + m * 64, 4L * m * 64) == 0;
		fprintf(stderr, "sgemm %s %dx64x%d on 1 and 2 OpenBLAS threads: %s\n", r ? "A^T B" : "A B", m, k,
			same ? "the same bits" : "different bits");
	}
	return 0;
}
C
cc -O2 -I/usr/include/x86_64-linux-gnu/openblas-pthread -o peak peak.c \
	-L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas
# The MLP's products at a 128-row sub-batch on one thread, OpenBLAS's sgemm
# against kiln's kernel (plugins/lib/gemm.c), each the best of 40 runs of
# 100 products, taken in turns so that both see the same load; and the
# memory's read bandwidth (one thread summing a 256 MB array, best of 5),
# the bound of the L-BFGS models, whose passes over X are matrix-vector.
cat > small.c <<'C'
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gemm.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(void) {
	int m = 128, n = 64, k = 100, r, s, i;
	float *X = malloc(4 * m * k), *W = malloc(4 * k * n), *C = malloc(4 * m * n), *D = malloc(4 * m * n);
	double best[4] = { 1e9, 1e9, 1e9, 1e9 }, f = 2.0 * m * n * k * 100 / 1e9, t;
	volatile float sink = 0;
	long nb = 64L << 20;
	float *big = malloc(4 * nb);
	for (i = 0; i < m * k; i++) X[i] = (float)(i % 97) / 97 - 0.5f;
	for (i = 0; i < k * n; i++) W[i] = (float)(i % 89) / 89 - 0.5f;
	for (i = 0; i < m * n; i++) D[i] = (float)(i % 83) / 83 - 0.5f;
	openblas_set_num_threads(1);
	if (!kp_gemm_available()) { printf("no AVX2/FMA: kiln uses OpenBLAS for these products\n"); return 0; }
	for (s = 0; s < 40; s++) {
		t = now(); for (r = 0; r < 100; r++) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, X, k, W, n, 1, C, n);
		t = now() - t; best[0] = t < best[0] ? t : best[0];
		t = now(); for (r = 0; r < 100; r++) kp_gemm(m, n, k, X, k, 1, W, n, C, n, W, 1);
		t = now() - t; best[1] = t < best[1] ? t : best[1];
		t = now(); for (r = 0; r < 100; r++) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1, X, k, D, n, 0, C, n);
		t = now() - t; best[2] = t < best[2] ? t : best[2];
		t = now(); for (r = 0; r < 100; r++) kp_gemm(k, n, m, X, 1, k, D, n, C, n, NULL, 0);
		t = now() - t; best[3] = t < best[3] ? t : best[3];
	}
	printf("128x64x100 X.W, 1 thread: OpenBLAS %.1f, kiln's kernel %.1f GFLOP/s\n", f / best[0], f / best[1]);
	printf("100x64x128 X^T.D, 1 thread: OpenBLAS %.1f, kiln's kernel %.1f GFLOP/s\n", f / best[2], f / best[3]);
	memset(big, 0, 4 * nb);
	for (t = 1e9, s = 0; s < 5; s++) {
		double t0 = now();
		float acc[8] = { 0 };
		long j;
		for (j = 0; j < nb; j += 8)
			for (i = 0; i < 8; i++) acc[i] += big[j + i];
		for (i = 0; i < 8; i++) sink += acc[i];
		t0 = now() - t0; t = t0 < t ? t0 : t;
	}
	printf("memory read, 1 thread: %.1f GB/s\n", 4.0 * nb / t / 1e9);
	return 0;
}
C
cc -O3 -I/usr/include/x86_64-linux-gnu/openblas-pthread -I"$top/plugins/lib" -o small small.c \
	"$top/plugins/lib/gemm.c" -L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas
small() { ./small | sed 's/^/  /'; }
read -r core peak < <(./peak 2)
echo "OpenBLAS sgemm peak (2048^3, 2 threads, $core kernels): $peak GFLOP/s"
small
# OpenBLAS picks its kernels from the processor's model number, and takes a
# processor it does not know (a virtual machine's, say) for an old one. Then
# choose by the instruction sets the processor has; both sides see it.
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$core" = Prescott ]; then
	flags=$(grep -m1 '^flags' /proc/cpuinfo)
	case " $flags " in
	*" avx512f "*) export OPENBLAS_CORETYPE=SkylakeX ;;
	*" avx2 "*) export OPENBLAS_CORETYPE=Haswell ;;
	esac
	if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
		read -r core peak < <(./peak 2)
		echo "OpenBLAS took this processor for a Prescott; OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE for both sides:"
		echo "OpenBLAS sgemm peak (2048^3, 2 threads, $core kernels): $peak GFLOP/s"
		small
	fi
fi
echo

# The data: digits through kiln's own featurize (stratified 80/20, seed 42,
# scaling fitted on train); the large set generated by scikit-learn's
# make_classification and split 80/20 the same way, then standardised.
mkdir -p digits large
cp "$top/examples/digits/data/digits.csv" digits/
cat > digits/Kilnfile <<'K'
features "feat" { data = "digits.csv", label = "digit", split = { test = 0.2, seed = 42, stratify = true } }
K
"$kiln" -C digits build >/dev/null
$py - "$rows" <<'P'
import json, sys
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
n = int(sys.argv[1])
X, y = make_classification(n_samples=n, n_features=100, n_informative=40, n_redundant=20,
                           n_classes=2, class_sep=0.8, flip_y=0.02, random_state=0)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
mu, sd = Xtr.mean(0), Xtr.std(0)
for name, a in (("X_train", (Xtr - mu) / sd), ("X_test", (Xte - mu) / sd)):
    np.save("large/%s.npy" % name, a.astype("<f4"))
np.save("large/y_train.npy", ytr.astype("<i8"))
np.save("large/y_test.npy", yte.astype("<i8"))
json.dump({"classes": ["0", "1"]}, open("large/transform.json", "w"))
P

# kiln_models DIR FEATURES LINEAR THREADS EPOCHS_LINEAR EPOCHS_MLP BATCH MLP_LR:
# the kiln side of the three comparisons.
kiln_models() {
	local dir=$1 feat=$2 linear=$3 th=$4 el=$5 em=$6 batch=$7 mlp_lr=$8
	{
		[ "$dir" = digits ] && echo 'features "feat" { data = "digits.csv", label = "digit", split = { test = 0.2, seed = 42, stratify = true } }'
		cat <<K
model "ridge" { features = "$feat", algorithm = "ridge", l2 = 1.0, threads = $th }
model "linear" { features = "$feat", algorithm = "$linear", epochs = $el, threads = $th }
model "mlp" { features = "$feat", algorithm = "mlp", hidden = { 64 }, epochs = $em, batch_size = $batch, lr = $mlp_lr, threads = $th }
test "ridge_test" { model = ":ridge", features = "$feat" }
test "linear_test" { model = ":linear", features = "$feat" }
test "mlp_test" { model = ":mlp", features = "$feat" }
K
	} > "$dir/Kilnfile"
}

# kiln_run DIR MODEL: "accuracy build-seconds train-seconds gflops" of a
# freshly trained model: the best of three (the cache emptied each time) of
# the wall time of `kiln build` and of the training time in the step's log.
kiln_run() {
	local dir=$1 m=$2 t0 t1 t best=999 tr besttr=999 acc gf=? i
	for i in 1 2 3; do
		rm -rf "$dir/kiln-out/$m" "$KILN_CACHE_DIR"
		t0=$(date +%s.%N)
		"$kiln" -C "$dir" build "$m" >/dev/null
		t1=$(date +%s.%N)
		t=$(echo "$t1 - $t0" | bc -l)
		[ "$(echo "$t < $best" | bc -l)" = 1 ] && best=$t
		tr=$(sed -n 's/^trained .* in \([0-9.]*\) s: .*/\1/p' "$dir/.kiln/logs/$m.log")
		if [ "$(echo "$tr < $besttr" | bc -l)" = 1 ]; then
			besttr=$tr
			gf=$(sed -n 's/.* \([0-9.]*\) GFLOP\/s$/\1/p' "$dir/.kiln/logs/$m.log")
		fi
	done
	"$kiln" -C "$dir" build "${m}_test" >/dev/null
	acc=$($py -c "import json; print(json.load(open('$dir/kiln-out/${m}_test/metrics.json'))['metrics']['accuracy'])")
	echo "$acc $best $besttr $gf"
}

# sk_run FEATURES MODEL EPOCHS BATCH MLP_LR: "accuracy seconds" of
# scikit-learn, the best fit() time of three.
sk_run() {
	$py - "$@" <<'P'
import sys, time, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neural_network import MLPClassifier
warnings.filterwarnings("ignore")
d, m, epochs, batch, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
X, y = np.load(d + "/X_train.npy"), np.load(d + "/y_train.npy")
Xt, yt = np.load(d + "/X_test.npy"), np.load(d + "/y_test.npy")
make = {"ridge": lambda: RidgeClassifier(alpha=1.0),
        "linear": lambda: LogisticRegression(max_iter=1000),
        "mlp": lambda: MLPClassifier(hidden_layer_sizes=(64,), max_iter=epochs, batch_size=batch,
                                     learning_rate_init=lr, random_state=0)}[m]
best = None
for _ in range(3):
    clf = make()
    t = time.perf_counter()
    clf.fit(X, y)
    t = time.perf_counter() - t
    best = t if best is None else min(best, t)
print((clf.predict(Xt) == yt).mean(), best)
P
}

# compare TITLE DIR FEATURES LINEAR THREADS EPOCHS_LINEAR EPOCHS_MLP BATCH MLP_LR
compare() {
	local title=$1 dir=$2 feat=$3 linear=$4 th=$5 el=$6 em=$7 batch=$8 mlp_lr=$9 m
	kiln_models "$dir" "$feat" "$linear" "$th" "$el" "$em" "$batch" "$mlp_lr"
	echo "$title"
	echo "  kiln: $th thread(s); $linear by L-BFGS (at most $el iterations, l2 1/n), mlp $em epochs, Adam, batch $batch"
	echo "  scikit-learn: RidgeClassifier(alpha=1), LogisticRegression (lbfgs to convergence),"
	echo "    MLPClassifier((64,), adam, $em epochs, batch $batch, lr $mlp_lr); OpenBLAS's default threads"
	printf '  %-20s %8s %8s %9s %9s %8s %8s %8s %8s\n' model "kiln acc" "skl acc" \
		"kiln fit" "skl fit" speedup "kiln all" speedup "kiln GF/s"
	for m in ridge linear mlp; do
		read -r ka kb kt kg < <(kiln_run "$dir" "$m")
		read -r sa st < <(sk_run "$dir/$feat" "$m" "$em" "$batch" "$mlp_lr")
		printf '  %-20s %8.4f %8.4f %8.3fs %8.3fs %7.1fx %7.3fs %7.1fx %8s\n' \
			"$(case $m in ridge) echo "ridge/Ridge";; linear) echo "$linear/Logistic";; *) echo "mlp/MLPClassifier";; esac)" \
			"$ka" "$sa" "$kt" "$st" "$(echo "$st / $kt" | bc -l)" "$kb" "$(echo "$st / $kb" | bc -l)" "$kg"
	done
	echo
}

# digits reads its split from the featurize target's folder.
cp -r digits/kiln-out/feat digits/feat_npy
compare "digits (1,438 x 64 train, 359 test, 10 classes; the example's settings)" \
	digits feat_npy softmax 2 1000 100 32 0.01
compare "generated ($((rows * 4 / 5)) x 100 train, $((rows / 5)) test, 2 classes)" \
	. large logistic 2 1000 10 256 0.001
echo "fit: training time alone; kiln all: the whole kiln build step; GFLOP/s: kiln's count"
echo "of training floating-point operations (history.json) over its fit time; peak: sgemm above."
echo

# Every default left alone, on every example's data through its own
# features target: kiln's logistic (two classes) or softmax and its MLP
# beside scikit-learn's LogisticRegression() and MLPClassifier(random_state=0);
# then, since one seed of an MLP moves a small test split by several rows,
# the MLPs' mean accuracy over five seeds (kiln's seed 1-5, scikit-learn's
# random_state 0-4), the rest left at the defaults.
echo "defaults: kiln logistic/softmax and mlp with no params, scikit-learn's estimators with none"
printf '  %-24s %-9s %9s %9s %9s %9s %10s %10s\n' "example (features)" linear "kiln lin" "skl LR" \
	"kiln mlp" "skl MLP" "kiln mlp5" "skl MLP5"
for ex in iris:iris_feat python:iris_feat breast_cancer:bc_feat digits:digits_feat loans:loans_feat; do
	d=defaults-${ex%%:*}
	f=${ex#*:}
	cp -r "$top/examples/${ex%%:*}" "$d"
	rm -rf "$d/kiln-out" "$d/.kiln" "$d/Kilnfile.lock"
	"$kiln" -C "$d" build "$f" >/dev/null
	k=$($py -c "import numpy as np; print(int(np.load('$d/kiln-out/$f/y_train.npy').max()) + 1)")
	lin=softmax
	[ "$k" = 2 ] && lin=logistic
	cat >> "$d/Kilnfile" <<K
model "bench_lin" { features = ":$f", algorithm = "$lin" }
model "bench_mlp" { features = ":$f", algorithm = "mlp" }
test "bench_lin_test" { model = ":bench_lin", features = ":$f" }
test "bench_mlp_test" { model = ":bench_mlp", features = ":$f" }
K
	for s in 2 3 4 5; do
		cat >> "$d/Kilnfile" <<K
model "bench_mlp$s" { features = ":$f", algorithm = "mlp", seed = $s }
test "bench_mlp${s}_test" { model = ":bench_mlp$s", features = ":$f" }
K
	done
	"$kiln" -C "$d" build bench_lin_test bench_mlp_test bench_mlp{2,3,4,5}_test >/dev/null
	read -r kl km km5 < <($py - "$d/kiln-out" <<'P'
import json, sys
acc = lambda m: json.load(open("%s/%s_test/metrics.json" % (sys.argv[1], m)))["metrics"]["accuracy"]
mlps = [acc("bench_mlp")] + [acc("bench_mlp%d" % s) for s in range(2, 6)]
print(acc("bench_lin"), mlps[0], sum(mlps) / 5)
P
)
	read -r sl sm sm5 < <($py - "$d/kiln-out/$f" <<'P'
import sys, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
warnings.filterwarnings("ignore")
d = sys.argv[1]
X, y, Xt, yt = (np.load(d + "/%s.npy" % n) for n in ("X_train", "y_train", "X_test", "y_test"))
mlps = [(MLPClassifier(random_state=s).fit(X, y).predict(Xt) == yt).mean() for s in range(5)]
print((LogisticRegression().fit(X, y).predict(Xt) == yt).mean(), mlps[0], sum(mlps) / 5)
P
)
	printf '  %-24s %-9s %9.4f %9.4f %9.4f %9.4f %10.4f %10.4f\n' "${ex%%:*} ($f)" "$lin" "$kl" "$sl" \
		"$km" "$sm" "$km5" "$sm5"
done
