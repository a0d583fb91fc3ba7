# --download=minimal: a clean clone asks for one final target; only its
# outputs are downloaded, its dependencies are recorded remote-only (kiln
# status says so, apart from missing ones), `kiln pull TARGET` brings one
# back, and a step that runs here gets its remote-only inputs fetched first.
. "$(dirname "$0")/lib.sh"
. "$top/tests/cli/nginx.sh"
start_nginx "$scratch/srv"
cat > Kilnfile <<'K'
command "a" { cmd = "seq 1 20000 > {out}/a", outputs = { "a" } }
command "b" { inputs = { a = ":a" }, cmd = "sort -rn {in.a}/a > {out}/b", outputs = { "b" } }
command "c" { inputs = { b = ":b" }, cmd = "head -3 {in.b}/b > {out}/c", outputs = { "c" } }
K
ok kiln build --remote "$remote"
ran 3
has "uploaded 3 targets"

mkdir ../clone
cp Kilnfile ../clone/
cd ../clone
export KILN_CACHE_DIR=$scratch/cache2
ok kiln build --remote "$remote" --download=minimal c
ran 0
has "3 restored from the cache (2 left in the remote cache: --download=minimal)"
has "fetched 1 targets (1 blobs"
same kiln-out/c/c "20000
19999
19998"
[ ! -e kiln-out/a ] && [ ! -e kiln-out/b ] || fail "a remote-only target's outputs were downloaded"
[ -z "$(find "$KILN_CACHE_DIR/cas" -type f -size +20k 2>/dev/null)" ] || fail "a large blob reached the local cache"
# kiln status tells remote-only apart from missing (and neither is stale for --check).
ok kiln status
has "a                        remote-only: its outputs are in the remote cache, not in kiln-out/ (kiln pull a)"
has "b                        remote-only"
hasnt "stale"
ok kiln why b
has "b: up to date, remote-only"
rm -rf kiln-out/c
ok kiln status
has "c                        stale: its outputs are in the cache (kiln build restores them)"
# A second minimal build: c comes back from the local cache, a and b stay remote-only, nothing asked of the server for them.
ok kiln build --remote "$remote" --download=minimal c
has "1 restored from the cache, 2 up to date"

# kiln pull a: its outputs appear, and it is no longer remote-only.
ok kiln pull --remote "$remote" a
has "pulled 1 targets"
[ "$(wc -l < kiln-out/a/a)" -eq 20000 ] || fail "kiln pull a did not put a's outputs in place"
ok kiln status
hasnt "a                        remote-only"
has "b                        remote-only"

# A new step here takes b: b's outputs are fetched before it starts.
cat >> Kilnfile <<'K'
command "d" { inputs = { b = ":b" }, cmd = "wc -l < {in.b}/b > {out}/d", outputs = { "d" } }
K
ok kiln build --remote "$remote" --download=minimal d
ran 1
same kiln-out/d/d 20000
[ "$(wc -l < kiln-out/b/b)" -eq 20000 ] || fail "b was not fetched for the step that needs it"

# The default stays all: a fresh clone gets every output.
mkdir ../all
cp ../ws/Kilnfile ../all/
cd ../all
export KILN_CACHE_DIR=$scratch/cache3
ok kiln build --remote "$remote" c
has "fetched 3 targets"
[ -f kiln-out/a/a ] && [ -f kiln-out/b/b ] || fail "--download=all left outputs in the remote"

# kiln.config { remote = { url = …, download = "minimal" } } does the same as the flag; a bad value is an error.
mkdir ../cfg
cp ../ws/Kilnfile ../cfg/
cd ../cfg
export KILN_CACHE_DIR=$scratch/cache4
sed -i "1i kiln.config { remote = { url = \"$remote\", download = \"minimal\" } }" Kilnfile
ok kiln build c
has "(2 left in the remote cache: --download=minimal)"
ok kiln build --download=all c
has "fetched 2 targets"
[ -f kiln-out/a/a ] || fail "--download=all did not win over kiln.config"
sed -i '1s/"minimal"/"some"/' Kilnfile
fails 2 kiln build c
has 'download'
has 'expected "all" or "minimal"'
fails 2 kiln build --download=most c
has "--download: expected all or minimal, got 'most'"
