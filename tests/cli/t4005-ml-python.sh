# The python example: a training step written in Python (scikit-learn, run
# through the exec plugin) whose model kiln's test plugin evaluates.
. "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || { echo "skip: no scikit-learn for /usr/bin/python3"; exit 0; }
cp -r "$top/examples/python/." .
rm -rf kiln-out .kiln Kilnfile.lock
ok kiln build
ran 4
ok kiln metrics
acc=$(printf '%s\n' "$out" | awk '$1 == "iris_sklearn_test" && $2 == "accuracy" { print $3 }')
awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }' || fail "accuracy '$acc' < 0.9"
