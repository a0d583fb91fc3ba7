# The training's own kernels (plugins/lib/gemm.c, logistic's fused L-BFGS
# pass): the step's log says which products they take, and the models are
# the same bytes on 1, 2 and 3 threads — breast_cancer's logistic
# regression by L-BFGS, and an MLP whose output layer (2 wide) takes the
# kernel's masked columns, with a batch split into 3 sub-batches.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/breast_cancer/." .
rm -rf kiln-out .kiln Kilnfile.lock
cat >> Kilnfile <<'K'
model "bc_mlp" { features = ":bc_feat", algorithm = "mlp", hidden = { 24, 8 }, epochs = 30, batch_size = 300, threads = 1 }
K
sed -i 's/algorithm = "logistic",/algorithm = "logistic", threads = 1,/' Kilnfile
ok kiln build bc_logistic bc_mlp
if grep -q '^flags.* avx2 .*fma\|^flags.* fma .*avx2' /proc/cpuinfo; then
	want="the MLP's and Adam's products by kiln's AVX2/FMA kernel"
else
	want="no AVX2/FMA: every product by OpenBLAS"
fi
grep -q "$want, 1 training thread" .kiln/logs/bc_mlp.log ||
	fail "the log does not say '$want': $(cat .kiln/logs/bc_mlp.log)"
lin=$(sha256sum < kiln-out/bc_logistic/model.safetensors)
mlp=$(sha256sum < kiln-out/bc_mlp/model.safetensors)
for n in 2 3; do
	sed -i "s/threads = [0-9]/threads = $n/" Kilnfile
	ok kiln build bc_logistic bc_mlp
	ran 2
	grep -q "$n training thread" .kiln/logs/bc_mlp.log || fail "bc_mlp did not use $n threads"
	[ "$(sha256sum < kiln-out/bc_logistic/model.safetensors)" = "$lin" ] ||
		fail "logistic: $n threads trained other bytes than 1 thread"
	[ "$(sha256sum < kiln-out/bc_mlp/model.safetensors)" = "$mlp" ] ||
		fail "mlp: $n threads trained other bytes than 1 thread"
done
ok kiln metrics
