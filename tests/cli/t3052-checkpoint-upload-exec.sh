# checkpoint_upload of a command's own checkpoint (not sealed: kiln takes the
# folder as it is): workspace A is killed mid-run once the remote holds its
# checkpoint; workspace B, with an empty local cache, fetches it, and the
# command resumes from what it left there. A running step's checkpoint goes
# up only when its files changed.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "count" {
  cmd = [[i=0
if [ -f "$KILN_CHECKPOINT/n" ]; then i=$(cat "$KILN_CHECKPOINT/n"); echo "resumed at $i"; fi
while [ "$i" -lt 60 ]; do
  i=$((i + 1)); echo "$i" > "$KILN_CHECKPOINT/n.tmp"; mv "$KILN_CHECKPOINT/n.tmp" "$KILN_CHECKPOINT/n"
  echo "step $i"; sleep 0.05
done
echo "$i" > "$KILN_OUT/n.txt"]],
  outputs = { "n.txt" },
  checkpoint = true,
  checkpoint_upload = "0.5s",
}
K
mkdir clean && cp Kilnfile clean/
# the count in the checkpoint on the server, or nothing
uploaded() {
	local d
	d=$(sed -n 's/^file [0-7]* \([0-9a-f]*\) [0-9]* n$/\1/p' "$scratch"/srv/data/ckpt/* 2>/dev/null | head -1)
	if [ -n "$d" ]; then cat "$scratch/srv/data/cas/$d" 2>/dev/null || true; fi
}
kill_once_uploaded 10
[ -n "$at" ] || fail "no checkpoint was uploaded"
[ "$at" -lt 60 ] || fail "the command finished before it was interrupted"
grep -q '^metric' "$scratch"/srv/data/ckpt/* && fail "an unsealed checkpoint's entry claims an epoch"

cp -r clean wsb && cd wsb
export KILN_CACHE_DIR=$scratch/cacheb
ok kiln build --remote "$remote"
has "kiln: count: fetched its checkpoint from the remote cache"
has "kiln: count: resuming from its checkpoint"
grep -qx "resumed at $at" .kiln/logs/count.log || fail "the command did not resume at $at: $(head -3 .kiln/logs/count.log)"
[ "$(cat kiln-out/count/n.txt)" = 60 ] || fail "the command's output is not 60"
[ -z "$(ls "$scratch/srv/data/ckpt")" ] || fail "the checkpoint entry is still on the server after the step built"
