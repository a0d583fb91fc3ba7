# A no-op build does not read kiln-out/ and .kiln/logs/ again to refuse
# links in them while their stat is the one .kiln/links-seen recorded when
# they were last read and found to hold none (issue 19). A link put there
# afterwards moves the folder's stat and is refused as before; a
# links-seen that came with a copied or cloned workspace names another
# folder's stat and is not trusted.
. "$(dirname "$0")/lib.sh"
mkdir -p "$scratch/home"
echo private > "$scratch/home/secret"
cat > Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/o", outputs = { "o" } }
command "b" { inputs = { up = ":a" }, cmd = "cat {in.up}/o > {out}/o", outputs = { "o" } }
K
ok kiln build
ran 2
# The folders changed in this second: wait for the clock to pass it, then a no-op records them.
sleep 1.1
ok kiln build
has "nothing to do"
[ -f .kiln/links-seen ] || fail "no .kiln/links-seen after a no-op"
grep -q '^kiln-out ' .kiln/links-seen || fail "kiln-out is not recorded: $(cat .kiln/links-seen)"
grep -q '^.kiln/logs ' .kiln/links-seen || fail ".kiln/logs is not recorded: $(cat .kiln/links-seen)"

# The next no-op reads neither folder.
if command -v strace > /dev/null; then
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o trace -e trace=getdents64 \
	    "$KILN_BIN" build > out 2>&1 || { cat out; fail "the traced no-op failed"; }
	grep -q "nothing to do" out || fail "the no-op ran something: $(cat out)"
	! grep -q getdents64 trace || fail "the no-op read a folder: $(head -3 trace)"
fi

# A link put in kiln-out after that: refused, and nothing built over it.
ln -s "$scratch/home" kiln-out/c
fails 2 kiln build
has "kiln-out/c is a symbolic link"
rm kiln-out/c
ln -s "$scratch/home" .kiln/logs/c.log
fails 2 kiln build
has ".kiln/logs/c.log is a symbolic link"
rm .kiln/logs/c.log
ok kiln build
has "nothing to do"

# A copy of a workspace with a link, and the links-seen of that very folder: another folder, refused.
sleep 1.1
ok kiln build
ln -s "$scratch/home" kiln-out/c
# What a build there would have recorded for the folder with the link in it.
d=$(stat -c '%d %i' kiln-out)
m=$(python3 -c 'import os; s = os.stat("kiln-out"); print(s.st_mtime_ns, s.st_ctime_ns)')
grep -v '^kiln-out ' .kiln/links-seen > seen.tmp || true
{ echo "kiln-out $d $m"; cat seen.tmp; } > .kiln/links-seen
cd "$scratch"
cp -a ws copy
cd copy
fails 2 kiln build
has "kiln-out/c is a symbolic link"
[ "$(cat "$scratch/home/secret")" = private ] || fail "the home folder changed"
