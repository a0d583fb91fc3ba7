# checkpoint_upload on the Slurm executor: the node keeps the training's
# checkpoint in its scratch workspace and sends it to the remote cache while
# it runs. The job is cancelled (scancel) mid-training; the next build's job
# (a new scratch folder, as on another node) fetches the uploaded checkpoint,
# resumes from its epoch (the step's log says so) and writes the bytes of a
# training never interrupted.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
. "$top/tests/cli/slurm.sh"
slurm_start
start_nginx "$scratch/srv"
cp -r "$top/examples/digits/data" .
body='dataset "digits" { source = "data/digits.csv" }
features "feat" { data = ":digits", label = "digit", scale = "standard", split = { test = 0.2, seed = 42 } }
model "mlp" { features = ":feat", algorithm = "mlp", hidden = { 128, 128 }, epochs = 150,
  batch_size = 32, tol = 0, checkpoint = true, checkpoint_every = 5, checkpoint_upload = "1s", seed = 1 }'
uploaded() { cat "$scratch"/srv/data/ckpt/* 2>/dev/null | sed -n 's/^metric \([0-9]*\) epoch$/\1/p' | head -1; }

# The reference: the local executor, never interrupted, no remote.
mkdir ref && cp -r data ref/ && printf '%s\n' "$body" > ref/Kilnfile
(cd ref && KILN_CACHE_DIR=$scratch/refcache kiln build --remote off >/dev/null 2>&1) || fail "the reference build failed"
want=$(sha256sum < ref/kiln-out/mlp/model.safetensors)

printf 'kiln.config { executor = "slurm", slurm = { cache = "%s" } }\n%s\n' "$scratch/node-cache" "$body" > Kilnfile
"$KILN_BIN" build --remote "$remote" > build.out 2>&1 &
kp=$!
for i in $(seq 1200); do
	e=$(uploaded)
	[ -n "$e" ] && [ "$e" -ge 20 ] && break
	kill -0 $kp 2>/dev/null || fail "the build ended before a checkpoint was uploaded: $(cat build.out; cat .kiln/logs/mlp.log)"
	sleep 0.05
done
id=$(cut -d' ' -f1 .kiln/tmp/mlp/slurm-job)
scancel "$id"
rc=0
wait $kp || rc=$?
[ $rc -eq 1 ] || fail "expected exit 1 after scancel, got $rc: $(cat build.out)"
at=$(uploaded)
[ -n "$at" ] || fail "no checkpoint on the server"
[ ! -e kiln-out/mlp/model.safetensors ] || fail "the training finished before it was cancelled"

ok kiln build --remote "$remote"
grep -q "kiln: mlp: fetched its checkpoint at epoch $at from the remote cache" .kiln/logs/mlp.log ||
	fail "the node did not fetch the checkpoint at $at: $(head -5 .kiln/logs/mlp.log)"
grep -q "resumed from the checkpoint at epoch $at of 150" .kiln/logs/mlp.log || fail "the log does not say it resumed at $at"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "the training resumed on the node wrote other bytes than the uninterrupted one"
[ -z "$(ls "$scratch/srv/data/ckpt")" ] || fail "the checkpoint entry is still on the server after the step built"
