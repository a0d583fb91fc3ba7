# Truncated or lying NPY and safetensors files: train and test fail with a
# message naming the file and what does not add up; no crash, no output.
. "$(dirname "$0")/lib.sh"
cp "$top/examples/iris/data/iris.csv" .
cat > Kilnfile <<'K'
features "f" { data = "iris.csv", label = "species" }
model "m" { features = ":f", algorithm = "softmax", epochs = 5 }
K
ok kiln build
# A features folder and a model folder given as sources, then broken.
cp -r kiln-out/f feat
cp -r kiln-out/m mod
cat > Kilnfile <<'K'
model "m2" { features = "feat", algorithm = "softmax", epochs = 5 }
test "t2" { model = "mod", features = "feat" }
K
ok kiln build
size=$(stat -c %s feat/X_train.npy)
head -c $((size - 7)) kiln-out/f/X_train.npy > feat/X_train.npy
fails 1 kiln build m2
has "feat/X_train.npy: NPY shape (120, 4) needs 1920 data bytes, file has 1913"
# A header that lies about the shape (the data is whole).
sed 's/(30, 4)/(31, 4)/' kiln-out/f/X_test.npy > feat/X_test.npy
fails 1 kiln build t2
has "feat/X_test.npy: NPY shape (31, 4) needs 496 data bytes, file has 480"
cp -f kiln-out/f/X_test.npy feat/X_test.npy
head -c 9 /dev/zero > feat/y_test.npy
fails 1 kiln build t2
has "feat/y_test.npy: not an NPY file (bad magic)"
cp -f kiln-out/f/y_test.npy feat/y_test.npy
ok kiln build t2
# safetensors: cut short, a header length past the end, a shape that lies.
size=$(stat -c %s mod/model.safetensors)
head -c $((size - 4)) kiln-out/m/model.safetensors > mod/model.safetensors
fails 1 kiln build t2
has "mod/model.safetensors: tensor 'layer0.weight': data_offsets"
has "outside the"
printf '\377\377\377\377\000\000\000\000{}' > mod/model.safetensors
fails 1 kiln build t2
has "mod/model.safetensors: safetensors header length 4294967295 exceeds the file (10 bytes)"
cp -f kiln-out/m/model.safetensors mod/model.safetensors
sed -i 's/"shape":\[4,3\]/"shape":[4,4]/' mod/model.safetensors
fails 1 kiln build t2
has "mod/model.safetensors: tensor 'layer0.weight': shape needs 64 bytes, data_offsets give 48"
cp -f kiln-out/m/model.safetensors mod/model.safetensors
ok kiln build t2
[ -e kiln-out/t2/metrics.json ] || fail "t2 did not build once the files were whole"
