# checkpoint = true on a training: kill -9 of kiln mid-training keeps the
# checkpoint; status says it is resumable; the next build resumes from it
# (the log says from which epoch) and writes the same model.safetensors bytes
# as a training never interrupted. A step stopped at its timeout keeps its
# checkpoint too; a different key starts clean; a damaged checkpoint is
# discarded with a warning.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/digits/data" .
kilnfile() {
	cat > Kilnfile <<K
dataset "digits" { source = "data/digits.csv" }
features "feat" { data = ":digits", label = "digit", scale = "standard", split = { test = 0.2, seed = 42 } }
model "mlp" { features = ":feat", algorithm = "mlp", hidden = { 128, 128 }, epochs = 150,
  batch_size = 32, tol = 0, checkpoint = true, checkpoint_every = 5, seed = $1 ${2:-} }
K
}
# epoch of the sealed checkpoint, or nothing
sealed() { sed -n 's/^epoch //p' .kiln/checkpoints/mlp.*/seal 2>/dev/null | head -1; }
# interrupt: start a build, kill -9 kiln once a checkpoint at epoch >= 10 is sealed.
interrupt() {
	"$KILN_BIN" build > build.out 2>&1 &
	local pid=$! i
	for i in $(seq 600); do
		e=$(sealed)
		[ -n "$e" ] && [ "$e" -ge 10 ] && break
		sleep 0.05
	done
	kill -9 $pid
	wait $pid 2>/dev/null || true
	[ -n "$(sealed)" ] || fail "no checkpoint was sealed before the training ended: $(cat build.out)"
	[ ! -e kiln-out/mlp/model.safetensors ] || fail "the training finished before it was interrupted"
}
# The reference: a training never interrupted, in its own workspace and cache.
kilnfile 1
mkdir ref && cp -r Kilnfile data ref/
t0=$(date +%s.%N)
(cd ref && KILN_CACHE_DIR=$scratch/refcache kiln build >/dev/null 2>&1) || fail "the reference build failed"
# Half the reference build's time as the timeout below: long enough for checkpoints
# however loaded the machine is, short of the whole training (1.5 s on a quiet one).
half=$(python3 -c 'import sys; print("%.1fs" % max(1.5, (float(sys.argv[2]) - float(sys.argv[1])) / 2))' "$t0" "$(date +%s.%N)")
want=$(sha256sum < ref/kiln-out/mlp/model.safetensors)
[ ! -e ref/.kiln/checkpoints/mlp.* ] || fail "a finished training left its checkpoint"

interrupt
ok kiln status
matches "mlp +stale: never built; resumable \(epoch [0-9]+\)"
at=$(sealed)
ok kiln build
has "kiln: mlp: resuming from its checkpoint at epoch $at"
grep -q "resumed from the checkpoint at epoch $at of 150" .kiln/logs/mlp.log || fail "the log does not say it resumed at $at"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "the resumed training wrote other bytes than the uninterrupted one"
ls .kiln/checkpoints/ | grep -q . && fail "the checkpoint is still there after the step built: $(ls .kiln/checkpoints)"

# A timeout stops the step; its checkpoint stays; with more time it resumes (timeout is not in the key).
rm -rf kiln-out .kiln/state "$KILN_CACHE_DIR"
kilnfile 1 ", resources = { timeout = \"$half\" }"
fails 1 kiln build
has "ran past its timeout"
[ -n "$(sealed)" ] || fail "the step stopped at its timeout kept no checkpoint"
kilnfile 1
ok kiln build
has "kiln: mlp: resuming from its checkpoint at epoch"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "resumed after a timeout, the model differs"

# Another key (seed 2) does not resume seed 1's checkpoint, and removes it.
rm -rf kiln-out .kiln/state "$KILN_CACHE_DIR"
interrupt
cp -a .kiln/checkpoints saved   # -a: the seal's snapshot stays hard links of data/
kilnfile 2
ok kiln build
hasnt "resuming"
if grep -q "resumed" .kiln/logs/mlp.log; then fail "another key resumed the checkpoint"; fi
ls .kiln/checkpoints/ | grep -q . && fail "the other key's checkpoint was kept"

# A damaged checkpoint: discarded with a warning naming the file, and the step starts clean.
kilnfile 1
rm -rf kiln-out .kiln/state "$KILN_CACHE_DIR" .kiln/checkpoints
cp -a saved .kiln/checkpoints
printf 'X' | dd of="$(echo .kiln/checkpoints/mlp.*/data/train.state)" bs=1 seek=100 conv=notrunc 2>/dev/null
ok kiln build
has "kiln: warning: target 'mlp': its checkpoint is damaged (data/train.state does not match its checksum); it starts clean"
hasnt "resuming"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "after a damaged checkpoint, the clean training differs"

# Killed while it wrote its next checkpoint: a new train.state renamed in
# (another file), a half-written temporary beside it, the seal not yet
# written. The snapshot kept with the seal is put back, and the step resumes
# from the sealed epoch to the same bytes.
rm -rf kiln-out .kiln/state "$KILN_CACHE_DIR" .kiln/checkpoints
cp -a saved .kiln/checkpoints
ck=$(echo .kiln/checkpoints/mlp.*)
at=$(sed -n 's/^epoch //p' "$ck/seal")
[ "$(stat -c %i "$ck/data/train.state")" = "$(stat -c %i "$ck/sealed/data/train.state")" ] ||
	fail "the seal's snapshot is not a hard link of data/"
head -c 5000 /dev/urandom >"$ck/data/train.state.tmp"
cp "$ck/data/train.state.tmp" "$ck/data/train.state.new" && mv "$ck/data/train.state.new" "$ck/data/train.state"
ok kiln build
has "kiln: target 'mlp': its checkpoint was being rewritten when the step stopped; taking its last sealed one"
has "kiln: mlp: resuming from its checkpoint at epoch $at"
hasnt "damaged"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "resumed from the snapshot, the model differs"
