# A sweep of 6 variants with kiln.grid at -j2: the shared dataset and
# features run once, each variant trains and is tested once, a select picks
# the best; building again does nothing, and a fresh checkout with the same
# cache restores every target without training anything.
. "$(dirname "$0")/lib.sh"
mkdir data
cp "$top/examples/iris/data/iris.csv" data/
cat > Kilnfile <<'K'
dataset "iris" { source = "data/iris.csv" }
features "iris_feat" { data = ":iris", label = "species", split = { test = 0.2, seed = 42 } }
local candidates = {}
for _, v in ipairs(kiln.grid { lr = { 0.01, 0.05, 0.1 }, l2 = { 0.0001, 0.01 } }) do
  model(v:name("iris_sm")) (v:with { features = ":iris_feat", algorithm = "softmax", epochs = 30 })
  test(v:name("iris_test")) { model = ":" .. v:name("iris_sm"), features = ":iris_feat" }
  candidates[#candidates + 1] = { model = ":" .. v:name("iris_sm"), test = ":" .. v:name("iris_test") }
end
select "iris_best" { candidates = candidates, by = "accuracy" }
K
ok kiln build -j2
has "15 targets: 15 ran"
log=$out
count() { printf '%s\n' "$log" | grep -cE "^\[[0-9]+/15\] $1 " || true; }
[ "$(count validate)" = 1 ] || fail "dataset ran $(count validate) times"
[ "$(count featurize)" = 1 ] || fail "features ran $(count featurize) times"
[ "$(count train)" = 6 ] || fail "expected 6 trainings, got $(count train)"
[ "$(count test)" = 6 ] || fail "expected 6 tests, got $(count test)"
for v in "l2=0.0001,lr=0.01" "l2=0.0001,lr=0.05" "l2=0.0001,lr=0.1" "l2=0.01,lr=0.01" "l2=0.01,lr=0.05" "l2=0.01,lr=0.1"; do
	[ -f "kiln-out/iris_sm@$v/model.safetensors" ] || fail "variant $v has no model"
done
grep -q '"lr": 0.0500000007' "kiln-out/iris_sm@l2=0.01,lr=0.05/model.json" ||
	fail "the variant's lr did not reach the model: $(cat "kiln-out/iris_sm@l2=0.01,lr=0.05/model.json")"
[ -f kiln-out/iris_best/model.safetensors ] && [ -f kiln-out/iris_best/selection.json ] || fail "no selection"
ok kiln build -j2
has "nothing to do: 15 targets up to date"
# Another checkout, the same cache: everything is restored, nothing trains.
rm -rf kiln-out .kiln
ok kiln build -j2
has "15 targets: 0 ran, 15 restored from the cache"
# Changing one variant's value runs that variant (and the select) only.
sed -i 's/lr = { 0.01, 0.05, 0.1 }/lr = { 0.01, 0.05, 0.2 }/' Kilnfile
ok kiln build -j2
has "15 targets: 5 ran"
[ -d "kiln-out/iris_sm@l2=0.01,lr=0.2" ] || fail "the new variant was not built"
