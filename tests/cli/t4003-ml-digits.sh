# The digits example: an MLP on two threads, accuracy >= 0.96, and
# bit-for-bit the same model.safetensors when trained again from scratch,
# and with another thread count (and a batch that does split between them).
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/digits/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build
ran 4
ok kiln metrics
acc=$(printf '%s\n' "$out" | awk '$1 == "digits_test" && $2 == "accuracy" { print $3 }')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.96) }' || fail "digits accuracy '$acc' < 0.96"
grep -q "2 training thread" .kiln/logs/digits_mlp.log || fail "training did not use 2 threads: $(cat .kiln/logs/digits_mlp.log)"
first=$(sha256sum < kiln-out/digits_mlp/model.safetensors)
for i in 1 2; do
	rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
	ok kiln build digits_mlp
	again=$(sha256sum < kiln-out/digits_mlp/model.safetensors)
	[ "$first" = "$again" ] || fail "run $i: model.safetensors differs from the first training"
done
ok /usr/bin/python3 - <<'P'
import json
h = json.load(open("kiln-out/digits_mlp/history.json"))
# at most 200 epochs, fewer when the training loss stops falling
assert 10 < len(h["epochs"]) <= 200 and h["best_epoch"] == len(h["epochs"]) and h["flops"] > 0
losses = [e["loss"] for e in h["epochs"]]
assert losses[-1] < losses[0] / 10, (losses[0], losses[-1])
m = json.load(open("kiln-out/digits_mlp/model.json"))
assert [l["out"] for l in m["layers"]] == [64, 10] and m["transform"]["label"] == "digit"
P
# Other thread counts and a batch of 512 rows (4 sub-batches): the same bytes.
sed -i 's/threads = 2,/batch_size = 512, threads = 2,/' Kilnfile
ok kiln build digits_mlp
two=$(sha256sum < kiln-out/digits_mlp/model.safetensors)
for n in 1 3; do
	sed -i "s/threads = [0-9],/threads = $n,/" Kilnfile
	ok kiln build digits_mlp
	ran 1
	[ "$(sha256sum < kiln-out/digits_mlp/model.safetensors)" = "$two" ] ||
		fail "$n threads trained other bytes than 2 threads"
done
