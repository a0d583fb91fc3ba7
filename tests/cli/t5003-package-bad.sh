# container: bad input is refused with a message naming the target and the
# field: a model input that is not a model, image names and tags that are
# not valid, unknown fields, a bad port.
. "$(dirname "$0")/lib.sh"
cp -r "$top/examples/iris/." .
rm -rf kiln-out .kiln Kilnfile.lock
cp Kilnfile Kilnfile.base

with() { cp Kilnfile.base Kilnfile; printf '%s\n' "$1" >>Kilnfile; }

# The features target is a folder of NPY files, not a model.
with 'container "img" { model = ":iris_feat", name = "iris", tag = "1" }'
fails 1 kiln build img
has "img"
has "is not a model kiln-serve can load"
[ ! -e kiln-out/img/image.tar ] || fail "a failed package left image.tar behind"

for bad in '"Iris"' '"iris/"' '"-iris"' '"ir is"' '"iris..x"' '""'; do
	with "container \"img\" { model = \":iris_softmax\", name = $bad, tag = \"1\" }"
	fails 2 kiln build img
	has "container 'img': field 'name': expected an image name"
done
for bad in '"-1"' '".x"' '"a:b"' '"'"$(printf 'x%.0s' $(seq 129))"'"' '1'; do
	with "container \"img\" { model = \":iris_softmax\", name = \"iris\", tag = $bad }"
	fails 2 kiln build img
	has "container 'img': field 'tag': expected a tag"
done
with 'container "img" { model = ":iris_softmax", name = "iris", tag = "1", port = 70000 }'
fails 2 kiln build img
has "field 'port'"
with 'container "img" { model = ":iris_softmax", name = "iris" }'
fails 2 kiln build img
has "field 'tag' is required"
with 'container "img" { model = ":iris_softmax", name = "iris", tag = "1", colour = "red" }'
fails 2 kiln build img
has "unknown field 'colour'"
with 'container "img" { model = "kiln-out/iris_softmax", name = "iris", tag = "1" }'
fails 2 kiln build img
has "field 'model'"
# Valid names with every separator the grammar allows.
with 'container "img" { model = ":iris_softmax", name = "reg.example/team_a/iris__x-y--z", tag = "v1.0_rc-2" }'
ok kiln build img
