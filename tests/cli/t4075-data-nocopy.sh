# No needless copies: an output of 1 MiB or more is its cache blob (a
# read-only hardlink here, ext4 has no reflink), built or restored; dataset
# passes its validated CSV on as the source's blob rather than writing a
# copy; a smaller file is a copy; nothing a step or kiln does writes a blob.
. "$(dirname "$0")/lib.sh"

# blob FILE: the cache blob that is FILE (same inode), or nothing.
blob() { find "$KILN_CACHE_DIR/cas" -type f -samefile "$1"; }
inode_of_blob() { [ -n "$(blob "$1")" ] || fail "$1 is not a link to a cache blob"; }
own_copy() {
	[ -z "$(blob "$1")" ] || fail "$1 is a link to a cache blob; expected its own copy"
	[ "$(stat -c %h "$1")" = 1 ] || fail "$1 has $(stat -c %h "$1") links; expected its own copy"
}

python3 - <<'P'
import random
random.seed(7)
for name, n in (("big.csv", 60000), ("plain.csv", 61000), ("small.csv", 50)):
    with open(name, "w") as f:
        f.write("id,x,y\n")
        for i in range(n):
            f.write("%d,%d,%.6f\n" % (i, i * 3, random.random()))
P
size=$(stat -c %s big.csv)
[ "$size" -gt 1048576 ] || fail "big.csv is only $size bytes"
cat > Kilnfile <<'K'
dataset "big" { source = "big.csv" }
dataset "plain" { source = "plain.csv" }
dataset "small" { source = "small.csv" }
command "model" { cmd = "head -c 3000000 /dev/zero > {out}/w.bin; head -c 2000000 /dev/zero > {out}/run.sh; chmod +x {out}/run.sh", outputs = { "w.bin", "run.sh" } }
command "copier" { inputs = { d = ":big" }, cmd = "cp {in.d}/data.csv {out}/copy.csv", outputs = { "copy.csv" } }
K
ok kiln add big.csv
du_add=$(du -sb . "$KILN_CACHE_DIR" | awk '{s+=$1} END {print s}')
ok kiln build big
ran 1

# dataset: its data.csv is the source's blob, stored once by kiln add.
inode_of_blob kiln-out/big/data.csv
[ "$(stat -c %a kiln-out/big/data.csv)" = 444 ] || fail "a linked output must be read-only"
digest=$(sed -n 's/^digest //p' big.csv.kiln)
[ "$(blob kiln-out/big/data.csv)" = "$KILN_CACHE_DIR/cas/${digest:0:2}/$digest" ] ||
	fail "data.csv is not the blob kiln add stored"
cmp -s big.csv kiln-out/big/data.csv || fail "data.csv differs from its source"
# Building cost no bytes: du counts each hardlinked file once.
du_build=$(du -sb . "$KILN_CACHE_DIR" | awk '{s+=$1} END {print s}')
[ $((du_build - du_add)) -lt $((size / 2)) ] || fail "the build of big took $((du_build - du_add)) more bytes"
ok kiln build
ran 4
# A source kiln add does not track: the cache holds the one copy, the source stays the user's.
inode_of_blob kiln-out/plain/data.csv
own_copy plain.csv
[ "$(stat -c %a plain.csv)" = 644 ] || fail "the source plain.csv lost its mode"
# Under 1 MiB: a copy.
own_copy kiln-out/small/data.csv
[ "$(stat -c %a kiln-out/small/data.csv)" = 644 ] || fail "a copied output must be the user's (0644)"
# A built output: the file is the blob; an executable keeps its own copy and its mode.
inode_of_blob kiln-out/model/w.bin
own_copy kiln-out/model/run.sh
[ -x kiln-out/model/run.sh ] || fail "run.sh lost its execute bit"
# A step that writes a copy of a blob gets the blob instead.
inode_of_blob kiln-out/copier/copy.csv
[ "$(blob kiln-out/copier/copy.csv)" = "$(blob kiln-out/big/data.csv)" ] || fail "copy.csv is not big's blob"

# Restored from the cache: the same links.
ok kiln clean
ok kiln build
has "0 ran, 5 restored from the cache"
inode_of_blob kiln-out/big/data.csv
own_copy kiln-out/small/data.csv
rm -rf kiln-out
ok kiln build --link copy
own_copy kiln-out/big/data.csv
own_copy kiln-out/model/w.bin
ok kiln clean
ok kiln build

# A step that tries to change its input changes no blob: inputs are read-only.
cat >> Kilnfile <<'K'
command "evil" { inputs = { d = ":big" }, cmd = "chmod 666 {in.d}/data.csv; echo tampered >> {in.d}/data.csv && echo done > {out}/o", outputs = { "o" } }
K
fails 1 kiln build evil
has "target 'evil'"
cmp -s big.csv kiln-out/big/data.csv || fail "a step changed big's data.csv (and its blob)"
ok kiln fsck
[ "$(stat -c %a "$(blob kiln-out/big/data.csv)")" = 444 ] || fail "the blob is no longer read-only"

# A hand that forces a write through the link is caught: fsck, and the next build.
chmod u+w kiln-out/big/data.csv
echo 999999,0,0 >> kiln-out/big/data.csv
fails 1 kiln fsck
has "corrupt blob"
ok kiln build big
ran 1
cmp -s big.csv kiln-out/big/data.csv || fail "the rebuilt data.csv is not the source"
ok kiln fsck
