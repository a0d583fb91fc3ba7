# kiln verify rebuilds the ML pipelines elsewhere, without the cache, with
# another umask, time zone and clock, and finds every output identical:
# CSV parsing, splits, scaling, training and metrics are all deterministic.
. "$(dirname "$0")/lib.sh"
for ex in iris breast_cancer digits; do
	mkdir "$ex"
	cp -r "$top/examples/$ex/." "$ex/"
	rm -rf "$ex/kiln-out" "$ex/.kiln" "$ex/Kilnfile.lock"
	ok kiln -C "$ex" build
	ok kiln -C "$ex" verify
	has "identical to Kilnfile.lock"
done
# loans: the gate fails by design; the rest verifies.
mkdir loans
cp -r "$top/examples/loans/." loans/
rm -rf loans/kiln-out loans/.kiln loans/Kilnfile.lock
ok kiln -C loans build loans_eval
ok kiln -C loans verify loans_eval
has "identical to Kilnfile.lock"
