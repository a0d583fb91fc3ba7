#!/usr/bin/env bash
# bench/tools.sh [FILES] — what declaring the environment costs, and what
# checkpoints save:
#  1. a no-op build of 10 targets with tools = { site = FOLDER } (FOLDER:
#     FILES files, default 5,000, in 50 folders), beside the same no-op
#     without it; the median of 5 each, and the first (hashing) build;
#  2. the time lost to an interruption at 80 % of a training (kill -9 of
#     kiln, then a build), with and without checkpoint = true, beside an
#     uninterrupted training; and with checkpoint_upload = "1s" to a remote
#     cache (nginx, as the tests start it), the build after the kill in
#     another workspace with an empty local cache.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$top/build/kiln}
files=${1:-5000}
work=$(mktemp -d /tmp/kiln-bench-tools.XXXXXX)
chmod 755 "$work"
cleanup_hooks=()
at_exit() { cleanup_hooks+=("$1"); }
fail() { echo "bench/tools.sh: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
trap 'for h in "${cleanup_hooks[@]+"${cleanup_hooks[@]}"}"; do eval "$h" || true; done; chmod -R u+w "$work"; rm -rf "$work"' EXIT
export KILN_CACHE_DIR=$work/cache
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# 1. the tools' digests on a no-op
site=$work/site
for d in $(seq 50); do
	mkdir -p "$site/pkg$d"
	for f in $(seq $((files / 50))); do echo "v = $d.$f" > "$site/pkg$d/m$f.py"; done
done
for ws in with without; do
	mkdir -p "$work/$ws"
	for i in $(seq 10); do
		if [ $ws = with ]; then t=", tools = { site = \"$site\" }"; else t=""; fi
		echo "command \"t$i\" { cmd = \"echo $i > {out}/o\", outputs = { \"o\" }$t }"
	done > "$work/$ws/Kilnfile"
	(cd "$work/$ws" && first=$(secs "$KILN" build -q) &&
		noop=$(for r in 1 2 3 4 5; do secs "$KILN" build -q; echo; done | median) &&
		printf '%-34s first build %6s s   no-op %6s s\n' "$ws site ($files files)" "$first" "$noop")
done
(cd "$work/with" && command -v strace >/dev/null &&
	strace -f -c -e trace=newfstatat,statx,openat -o "$work/trace" "$KILN" build -q >/dev/null 2>&1 &&
	awk '$NF ~ /stat|openat/ { printf "  no-op with site: %s %s calls\n", $4, $NF }' "$work/trace") || true

# 2. an interruption at 80 % of a training
mkdir -p "$work/train" && cp -r "$top/examples/digits/data" "$work/train/"
cd "$work/train"
model() {
	cat > Kilnfile <<K
dataset "digits" { source = "data/digits.csv" }
features "feat" { data = ":digits", label = "digit", scale = "standard", split = { test = 0.2, seed = 42 } }
model "mlp" { features = ":feat", algorithm = "mlp", hidden = { 256, 256 }, epochs = 100, checkpoint = $1, checkpoint_every = 5 ${2:-} }
K
}
fresh() {
	rm -rf kiln-out .kiln "$KILN_CACHE_DIR" "$work"/srv/data/*
	"$KILN" build -q feat >/dev/null 2>&1
}
# elsewhere: the build after the kill, in another workspace with an empty local cache (the remote's checkpoint)
elsewhere() { rm -rf "$work/b" "$work/cacheb" && mkdir "$work/b" && cp -r Kilnfile data "$work/b/" && (cd "$work/b" && KILN_CACHE_DIR=$work/cacheb "$KILN" build -q); }
# kill -9 kiln once 80 % of the uninterrupted training time ($full) has
# passed, then build again; tried again (up to 3 times) when the training
# ended before the kill (a loaded machine runs it faster or slower than $full).
interrupted() {
	local s e pid try
	for try in 1 2 3; do
		fresh
		s=$(date +%s.%N)
		"$KILN" build -q >/dev/null 2>&1 &
		pid=$!
		sleep "$(awk -v f="$full" 'BEGIN { print f * 0.8 }')"
		if kill -9 $pid 2>/dev/null; then
			wait $pid 2>/dev/null || true
			[ ! -e kiln-out/mlp/model.safetensors ] && break
		fi
		wait $pid 2>/dev/null || true
		[ $try = 3 ] && { echo "the training ended before 80 % three times: no figure"; return; }
	done
	if [ -n "${resume:-}" ]; then $resume; else "$KILN" build -q; fi >/dev/null 2>&1
	e=$(date +%s.%N)
	awk -v s="$s" -v e="$e" -v f="$full" 'BEGIN { printf "%.3f s in all, %.3f s lost", e - s, e - s - f }'
}
uninterrupted() { fresh; secs "$KILN" build -q; }
model false
full=$(uninterrupted)
echo "training (mlp 256x256, 100 epochs on digits), uninterrupted, no checkpoints: $full s"
echo "  kill -9 at 80 %, then a build, without checkpoints: $(interrupted)"
model true
full=$(uninterrupted)
echo "training, uninterrupted, checkpoint_every = 5:  $full s"
echo "  kill -9 at 80 %, then a build, checkpoint_every = 5:  $(interrupted)"
. "$top/tests/cli/nginx.sh"
start_nginx "$work/srv"
export KILN_REMOTE=$remote
model true ', checkpoint_upload = "1s"'
full=$(uninterrupted)
echo "training with checkpoint_upload = \"1s\" to nginx, uninterrupted: $full s"
echo "  kill -9 at 80 %, then a build in another workspace: $(resume=elsewhere interrupted)"
echo "(wall-clock seconds from date +%s.%N; the time lost is beside the uninterrupted run of the same Kilnfile)"
