# checkpoint_upload: with a remote cache (nginx), a training's checkpoint is
# uploaded every so often while it runs. kill -9 of kiln in workspace A
# mid-training; workspace B (a fresh copy, an empty local cache, the same
# remote) fetches the last uploaded checkpoint, resumes from it (the log says
# which epoch) and writes the bytes of a training never interrupted. Once
# built, the checkpoint entry leaves the server. A damaged checkpoint on the
# server is discarded with a warning and the step starts clean. gc --remote
# keeps a checkpoint's blobs. A bad
# checkpoint_upload names the Kilnfile's line.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cp -r "$top/examples/digits/data" .
kilnfile() {
	cat > Kilnfile <<K
dataset "digits" { source = "data/digits.csv" }
features "feat" { data = ":digits", label = "digit", scale = "standard", split = { test = 0.2, seed = 42 } }
model "mlp" { features = ":feat", algorithm = "mlp", hidden = { 128, 128 }, epochs = 150,
  batch_size = 32, tol = 0, checkpoint = true, checkpoint_every = 5, checkpoint_upload = "${1:-1s}", seed = 1 }
K
}
# the epoch of the checkpoint entry on the server, or nothing
uploaded() { cat "$scratch"/srv/data/ckpt/* 2>/dev/null | sed -n 's/^metric \([0-9]*\) epoch$/\1/p' | head -1; }

# The reference: never interrupted, no remote, its own cache.
kilnfile
mkdir ref && cp -r Kilnfile data ref/
(cd ref && KILN_CACHE_DIR=$scratch/refcache kiln build --remote off >/dev/null 2>&1) || fail "the reference build failed"
want=$(sha256sum < ref/kiln-out/mlp/model.safetensors)
mkdir clean && cp -r Kilnfile data clean/

# Workspace A: killed once the server holds a checkpoint at epoch >= 20.
kill_once_uploaded 20
[ -n "$at" ] || fail "no checkpoint was uploaded while the step ran: $(cat build.out)"
[ ! -e kiln-out/mlp/model.safetensors ] || fail "the training finished before it was interrupted"
# kiln gc --remote keeps the blobs a checkpoint entry names.
ok kiln gc --remote="$remote" --keep-last 1 --grace 0
# The entry names its blobs, which are on the server: an entry is sent after them.
grep '^file ' "$scratch"/srv/data/ckpt/* | while read -r _ _ digest _ path; do
	[ -e "$scratch/srv/data/cas/$digest" ] || [ -e "$scratch/srv/data/cas-zstd/$digest" ] ||
		fail "the checkpoint entry names $path ($digest), which the server lacks"
done
cp -r "$scratch/srv/data/ckpt" saved-entry
cp -r "$scratch/srv/data/cas-zstd" saved-blobs 2>/dev/null || mkdir saved-blobs

# Workspace B: a fresh copy with an empty local cache resumes from the uploaded epoch.
cp -r clean wsb && cd wsb
export KILN_CACHE_DIR=$scratch/cacheb
ok kiln build --remote "$remote"
has "kiln: mlp: fetched its checkpoint at epoch $at from the remote cache"
has "kiln: mlp: resuming from its checkpoint at epoch $at"
grep -q "resumed from the checkpoint at epoch $at of 150" .kiln/logs/mlp.log || fail "the log does not say it resumed at $at"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "the training resumed from the remote wrote other bytes than the uninterrupted one"
hasnt "warning"
[ -z "$(ls "$scratch/srv/data/ckpt")" ] || fail "the checkpoint entry is still on the server after the step built"
[ -z "$(ls .kiln/checkpoints)" ] || fail "the checkpoint is still here after the step built"
cd ..

# A damaged checkpoint on the server: discarded with a warning, and the step starts clean.
# (Without B's results on it, or the next workspace would restore them.)
rm -rf "$scratch/srv/data/ac"
cp saved-entry/* "$scratch/srv/data/ckpt/"
big=$(grep '^file ' saved-entry/* | sort -k4 -n | tail -1 | cut -d' ' -f3)
f=$scratch/srv/data/cas-zstd/$big
[ -e "$f" ] || f=$scratch/srv/data/cas/$big
chmod u+w "$f" 2>/dev/null || true
printf 'XXXX' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
cp -r clean wsc && cd wsc
export KILN_CACHE_DIR=$scratch/cachec
ok kiln build --remote "$remote"
matches "warning: remote cache .*: 1 bad blob for 'mlp'; its checkpoint there is not taken: it starts clean"
hasnt "resuming"
[ "$(sha256sum < kiln-out/mlp/model.safetensors)" = "$want" ] || fail "after a damaged remote checkpoint, the clean training differs"
[ -z "$(ls "$scratch/srv/data/ckpt")" ] || fail "the damaged checkpoint entry is still on the server"
cd ..

# Errors name the Kilnfile's line.
kilnfile 10x
fails 2 kiln build --remote off
has "Kilnfile:3: target 'mlp': field 'checkpoint_upload': expected a duration such as \"10m\", \"30s\" or \"1h\" (at most 365d); got 10x"
cat > Kilnfile <<'K'
kiln.target { name = "t", plugin = "exec", params = { cmd = "true" }, outputs = { "x" },
  checkpoint_upload = "10m" }
K
fails 2 kiln build --remote off
has "Kilnfile:1: target 't': field 'checkpoint_upload': needs checkpoint = true: only a step's checkpoint is uploaded"
