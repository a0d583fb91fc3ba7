# Rule arguments out of range: an error at the Kilnfile's line that names
# the target and the field, what was expected and what was found; exit 2,
# nothing runs.
. "$(dirname "$0")/lib.sh"
printf 'a,y\n1,p\n2,q\n3,p\n4,q\n5,p\n6,q\n' > d.csv
# kilnfile_error FIELDS EXPECTED: a model with FIELDS fails with EXPECTED.
kilnfile_error() {
	cat > Kilnfile <<K
features "f" { data = "d.csv", label = "y" }

model "m" { features = ":f", $1 }
K
	fails 2 kiln build
	has "Kilnfile:3: "
	has "$2"
	[ ! -e kiln-out ] || fail "something ran"
}
kilnfile_error 'algorithm = "softmax", lr = -0.1' "model 'm': field 'lr': expected a positive number, got -0.1"
kilnfile_error 'algorithm = "softmax", epochs = 0' "model 'm': field 'epochs': expected a positive integer, got 0"
kilnfile_error 'algorithm = "softmax", epochs = 2.5' "model 'm': field 'epochs': expected a positive integer, got 2.5"
kilnfile_error 'algorithm = "svm"' "model 'm': field 'algorithm': expected \"ridge\", \"logistic\", \"softmax\", \"mlp\" or \"gbdt\", got \"svm\""
kilnfile_error 'algorithm = "mlp", hidden = { 0 }' "model 'm': field 'hidden': expected a list of 1 to 8 positive layer sizes"
kilnfile_error 'algorithm = "softmax", hidden = { 8 }' "model 'm': field 'hidden': only algorithm \"mlp\" has hidden layers"
kilnfile_error 'algorithm = "softmax", epoch = 3' "model 'm': unknown field 'epoch'"
kilnfile_error 'lr = 0.1' "model 'm': field 'algorithm' is required"
kilnfile_error 'algorithm = "softmax", validation = 1.5' "model 'm': field 'validation': expected a fraction in [0, 0.9], got 1.5"
cat > Kilnfile <<'K'
features "f" { data = "d.csv", label = "y", split = { test = 0 } }
K
fails 2 kiln build
has "Kilnfile:1: features 'f': field 'split.test': expected a fraction in [0.01, 0.9], got 0"
cat > Kilnfile <<'K'
features "f" { data = "d.csv", label = "y", scale = "log" }
K
fails 2 kiln build
has "features 'f': field 'scale': expected \"standard\", \"minmax\" or \"none\", got \"log\""
cat > Kilnfile <<'K'
features "f" { data = "d.csv", label = "y" }
model "m" { features = ":f", algorithm = "softmax" }
test "t" { model = ":m", features = ":f", min = { acuracy = 0.9 } }
K
fails 2 kiln build
has "Kilnfile:3: test 't': unknown field 'min.acuracy'"
cat > Kilnfile <<'K'
dataset "d" { source = "d.csv", schema = { a = { type = "integer" } } }
K
fails 2 kiln build
has "dataset 'd': field 'schema.a.type': expected \"int\", \"float\", \"string\" or \"bool\", got \"integer\""
# The plugins check their params too, for Kilnfiles that call kiln.target.
cat > Kilnfile <<'K'
kiln.target { name = "m", plugin = "train", inputs = { features = "d.csv" },
  params = { algorithm = "softmax", lr = -1 }, outputs = { "model.safetensors" } }
K
fails 2 kiln build
has "target 'm': param 'lr': expected a number in [0, 10], got -1"
