#!/usr/bin/env bash
# bench/sweep.sh — a 24-variant sweep on digits (softmax: 4 step sizes x 3
# weight decays x 2 epoch counts), three ways, in the same run:
#   kiln        one `kiln build -j2` of a kiln.grid Kilnfile: the data set and
#               the features once, the 24 models and their validation tests
#               two at a time, a select picking the best
#   sequential  24 `kiln build -j1`, one variant each, every one in a fresh
#               workspace with an empty cache: the shared stages run again
#               for each, as DVC's experiment queue runs a whole pipeline
#               per queued experiment
#   sklearn     scikit-learn's GridSearchCV(n_jobs=2) over SGDClassifier
#               (log loss, constant step = lr, alpha = l2, max_iter = epochs)
#               on the same training and validation rows (kiln's NPY files)
# and then the kiln sweep again with nothing changed (all up to date), and
# in a second workspace that shares the cache (all restored).
#
#   bench/sweep.sh        (after `make`)
# Wall times in seconds, one run each (the sweep is long enough); the load
# average is printed, since other work on the machine shows in the numbers.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[ -x "$top/build/kiln" ] || { echo "build kiln first: make" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kiln/plugins"
cp "$top/build/kiln" "$top/build/kiln-run" "$work/kiln/"
cp "$top"/build/plugins/*.so "$work/kiln/plugins/"
kiln=$work/kiln/kiln
cd "$work"
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
common='dataset "digits" { source = "data/digits.csv", schema = { digit = { type = "int", min = 0, max = 9 } } }
features "digits_feat" { data = ":digits", label = "digit", scale = "standard",
  split = { test = 0.2, validation = 0.2, seed = 42, stratify = true } }'

mkdir sweep && cp -r "$top/examples/sweep/data" sweep/
cat > sweep/Kilnfile <<K
$common
local candidates = {}
for _, v in ipairs(kiln.grid { lr = { 0.001, 0.005, 0.01, 0.05 }, l2 = { 0.0001, 0.001, 0.01 }, epochs = { 15, 30 } }) do
  model(v:name("sm")) (v:with { features = ":digits_feat", algorithm = "softmax" })
  test(v:name("val")) { model = ":" .. v:name("sm"), features = ":digits_feat" }
  candidates[#candidates + 1] = { model = ":" .. v:name("sm"), test = ":" .. v:name("val") }
end
select "best" { candidates = candidates, by = "accuracy", goal = "max" }
K
export KILN_CACHE_DIR=$work/cache
t0=$(now)
(cd sweep && "$kiln" build -j2 -q >/dev/null)
t1=$(now)
kiln_s=$(secs "$t0" "$t1")
best=$("$py" -c 'import json; s = json.load(open("sweep/kiln-out/best/selection.json")); print("%.4f" % s["winner"]["value"])')
t0=$(now)
(cd sweep && "$kiln" build -j2 -q >/dev/null)
noop_s=$(secs "$t0" "$(now)")
cp -r sweep again && rm -rf again/kiln-out again/.kiln
t0=$(now)
(cd again && "$kiln" build -j2 -q >/dev/null)
restore_s=$(secs "$t0" "$(now)")

# The same 24 variants one after another, each a whole pipeline from nothing.
t0=$(now)
for lr in 0.001 0.005 0.01 0.05; do for l2 in 0.0001 0.001 0.01; do for ep in 15 30; do
	d=seq-$lr-$l2-$ep
	mkdir "$d" && cp -r sweep/data "$d/"
	cat > "$d/Kilnfile" <<K
$common
model "sm" { features = ":digits_feat", algorithm = "softmax", lr = $lr, l2 = $l2, epochs = $ep }
test "val" { model = ":sm", features = ":digits_feat" }
K
	(cd "$d" && KILN_CACHE_DIR=$work/cache-$d "$kiln" build -j1 -q >/dev/null)
done; done; done
seq_s=$(secs "$t0" "$(now)")

sk=$("$py" - sweep/kiln-out/digits_feat <<'P'
import sys, time, numpy as np, warnings
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GridSearchCV, PredefinedSplit
warnings.filterwarnings("ignore")
d = sys.argv[1]
X = np.concatenate([np.load(d + "/X_train.npy"), np.load(d + "/X_val.npy")])
y = np.concatenate([np.load(d + "/y_train.npy"), np.load(d + "/y_val.npy")])
fold = np.r_[np.full(len(np.load(d + "/y_train.npy")), -1), np.zeros(len(np.load(d + "/y_val.npy")))]
grid = {"eta0": [0.001, 0.005, 0.01, 0.05], "alpha": [0.0001, 0.001, 0.01], "max_iter": [15, 30]}
g = GridSearchCV(SGDClassifier(loss="log_loss", learning_rate="constant", tol=None, random_state=1),
                 grid, cv=PredefinedSplit(fold), n_jobs=2, refit=False)
t = time.time()
g.fit(X, y)
print("%.2f %.4f" % (time.time() - t, g.best_score_))
P
)
echo "24-variant sweep on digits (validation accuracy of the best variant in brackets):"
printf '  %-44s %8s s  [%s]\n' "kiln build -j2 (shared stages once)" "$kiln_s" "$best"
printf '  %-44s %8s s\n' "24 sequential pipelines (DVC's queue)" "$seq_s"
printf '  %-44s %8s s  [%s]\n' "scikit-learn GridSearchCV(n_jobs=2)" "${sk% *}" "${sk#* }"
printf '  %-44s %8s s\n' "kiln again, nothing changed" "$noop_s"
printf '  %-44s %8s s\n' "kiln in a fresh clone, same cache" "$restore_s"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
