# examples/torch: a PyTorch training through `command`, deterministic and
# checkpointing every epoch into $KILN_CHECKPOINT. kill -9 of kiln mid-training
# keeps the checkpoint; the next build resumes it (the step's log says from
# which epoch) and writes the bytes of a training never interrupted; its
# metrics.json reaches kiln metrics; kiln verify passes. Skipped where python3-torch is not importable
# (bootstrap.sh installs it).
. "$(dirname "$0")/lib.sh"
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	echo "python3-torch is not installed (bootstrap.sh installs it)"
	exit 77
fi
cp -r "$top/examples/torch/." .
rm -rf kiln-out .kiln Kilnfile.lock
# The reference: a training never interrupted, in its own workspace and cache.
mkdir ref && cp -r Kilnfile train.py data ref/
(cd ref && KILN_CACHE_DIR=$scratch/refcache kiln build >/dev/null 2>&1) || fail "the reference build failed"
want=$(sha256sum < ref/kiln-out/digits_torch/model.safetensors)

log=.kiln/logs/digits_torch.log
"$KILN_BIN" build > build.out 2>&1 &
pid=$!
for i in $(seq 1200); do
	grep -q '^epoch [5-9]/30\|^epoch [1-2][0-9]/30' $log 2>/dev/null && break
	kill -0 $pid 2>/dev/null || fail "the build ended before it was interrupted: $(cat build.out)"
	sleep 0.05
done
kill -9 $pid
wait $pid 2>/dev/null || true
[ ! -e kiln-out/digits_torch/model.safetensors ] || fail "the training finished before it was interrupted"
[ -e .kiln/checkpoints/digits_torch.*/data/train.pt ] || fail "no checkpoint was kept: $(ls -R .kiln/checkpoints)"
ok kiln status
matches "digits_torch +stale: never built; resumable"
ok kiln build
has "kiln: digits_torch: resuming from its checkpoint"
at=$(sed -n 's/^resumed from the checkpoint at epoch \([0-9]*\) of 30$/\1/p' $log)
[ -n "$at" ] && [ "$at" -ge 5 ] && [ "$at" -lt 30 ] || fail "the step's log does not say it resumed mid-training: $(cat $log)"
grep -q "^epoch $((at + 1))/30 " $log || fail "the resumed training did not go on from epoch $at"
grep -q "^epoch 1/30 " $log && fail "the resumed training started again from epoch 1"
[ "$(sha256sum < kiln-out/digits_torch/model.safetensors)" = "$want" ] || fail "the resumed training wrote other bytes than the uninterrupted one"
cmp kiln-out/digits_torch/metrics.json ref/kiln-out/digits_torch/metrics.json || fail "the resumed training's metrics differ"
ls .kiln/checkpoints/ | grep -q . && fail "the checkpoint is still there after the step built"
ok kiln metrics digits_torch
matches "digits_torch +accuracy.test +0\.9[0-9]*"
# The test rule reads the model as one of kiln's.
ok kiln metrics digits_torch_test
matches "digits_torch_test +accuracy +0\.9"
ok kiln verify
has "identical to Kilnfile.lock"
