# gbdt params out of range, or of the other family of models: an error at
# the Kilnfile's line naming the target and the field; nothing runs. The
# train plugin's check refuses the same params when a rule of its own passes them.
. "$(dirname "$0")/lib.sh"
printf 'a,y\n1,p\n2,q\n3,p\n4,q\n5,p\n6,q\n' > d.csv
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
kilnfile_error 'algorithm = "gbdt", trees = 0' "model 'm': field 'trees': expected a positive integer, got 0"
kilnfile_error 'algorithm = "gbdt", depth = 0' "model 'm': field 'depth': expected an integer in [1, 16], got 0"
kilnfile_error 'algorithm = "gbdt", depth = 17' "model 'm': field 'depth': expected an integer in [1, 16], got 17"
kilnfile_error 'algorithm = "gbdt", lr = 0' "model 'm': field 'lr': expected a positive number, got 0"
kilnfile_error 'algorithm = "gbdt", lr = -1' "model 'm': field 'lr': expected a positive number, got -1"
kilnfile_error 'algorithm = "gbdt", subsample = 0' "model 'm': field 'subsample': expected a fraction in (0, 1], got 0"
kilnfile_error 'algorithm = "gbdt", colsample = 1.5' "model 'm': field 'colsample': expected a fraction in (0, 1], got 1.5"
kilnfile_error 'algorithm = "gbdt", min_child_weight = -1' "model 'm': field 'min_child_weight': expected a number >= 0, got -1"
kilnfile_error 'algorithm = "gbdt", epochs = 5' "model 'm': field 'epochs': algorithm \"gbdt\" has no epochs (use trees)"
kilnfile_error 'algorithm = "softmax", trees = 5' "model 'm': field 'trees': only algorithm \"gbdt\" grows trees"
kilnfile_error 'algorithm = "gbdt", hidden = { 4 }' "model 'm': field 'hidden': only algorithm \"mlp\" has hidden layers"

# Past the rule (a target of its own calling the train plugin): the plugin's checks.
plugin_error() {
	cat > Kilnfile <<K
features "f" { data = "d.csv", label = "y" }
kiln.target { name = "m", plugin = "train", inputs = { features = ":f" },
  params = { algorithm = "gbdt", $1 }, outputs = { "model.safetensors", "model.json", "history.json" } }
K
	fails 2 kiln build m
	has "Kilnfile:2: target 'm': "
	has "$2"
}
plugin_error 'trees = 0' "param 'trees': expected an integer in [1, 1000000], got 0"
plugin_error 'depth = 0' "param 'depth': expected an integer in [1, 16], got 0"
plugin_error 'lr = 0' "param 'lr': expected a positive number, got 0"
plugin_error 'epochs = 3' "param 'epochs': the gbdt algorithm has no epochs (it grows trees)"
