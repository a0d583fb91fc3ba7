# A source is stat'ed with one fstatat beneath its folder, opened once
# through no link (issue 19). A source that is a link, or whose folder is
# one, goes the way it always went: followed when it stays inside the
# workspace, refused when it leads out. Both with openat2 and without
# (KILN_FS_NO_OPENAT2), and a no-op of many sources in one folder opens
# that folder once, not each file.
. "$(dirname "$0")/lib.sh"
outside=$scratch/outside
mkdir -p "$outside" src real/deep sub
echo secret > "$outside/key"
echo a > src/a.txt
echo b > real/deep/b.txt
echo c > sub/c.txt
ln -s ../src/a.txt sub/alink.txt	# a file link that stays inside
ln -s real linked		# a folder link that stays inside
ln -s "$outside" away		# a folder link out
ln -s "$outside/key" sub/key.txt	# a file link out, in a plain folder

kf() {
	cat > Kilnfile <<K
command "plain" { inputs = { s = "src/a.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }
command "filelink" { inputs = { s = "sub/alink.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }
command "dirlink" { inputs = { s = "linked/deep/b.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }
command "top" { inputs = { s = "Kilnfile" }, cmd = "wc -l < {in.s} > {out}/o", outputs = { "o" } }
$1
K
}

for env in "" "KILN_FS_NO_OPENAT2=1"; do
	rm -rf kiln-out .kiln "$KILN_CACHE_DIR"
	kf ""
	ok env $env "$KILN_BIN" build
	ran 4
	same kiln-out/plain/o a
	same kiln-out/filelink/o a
	same kiln-out/dirlink/o b
	ok env $env "$KILN_BIN" build
	has "nothing to do"
	# A change seen through the link and through the plain path alike.
	echo a2 > src/a.txt
	ok env $env "$KILN_BIN" build
	ran 2
	same kiln-out/filelink/o a2
	echo b2 > real/deep/b.txt
	ok env $env "$KILN_BIN" build
	ran 1
	same kiln-out/dirlink/o b2
	echo a > src/a.txt
	echo b > real/deep/b.txt

	# Out through a folder link, through a file link in a plain folder, through a glob.
	kf 'command "far" { inputs = { s = "away/key" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }'
	fails 2 env $env "$KILN_BIN" build far
	has "target 'far': input 's': away/key leads outside the workspace through a symbolic link"
	kf 'command "far" { inputs = { s = "sub/key.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }'
	fails 2 env $env "$KILN_BIN" build far
	has "target 'far': input 's': sub/key.txt leads outside the workspace through a symbolic link"
	kf 'command "far" { inputs = { s = "sub/*.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }'
	fails 2 env $env "$KILN_BIN" build far
	has "target 'far': input 's': sub/key.txt leads outside the workspace through a symbolic link"
	[ ! -e kiln-out/far ] || fail "a step ran over a source outside the workspace"
	# Absent: the same message as before.
	kf 'command "gone" { inputs = { s = "src/none.txt" }, cmd = "true", outputs = { "o" } }'
	fails 2 env $env "$KILN_BIN" build gone
	has "target 'gone': input 's': src/none.txt does not exist"
done

# Many sources in one folder: the no-op opens src/ once and no source file
# (LeakSanitizer does not run under ptrace).
command -v strace > /dev/null || skip "strace is not installed (bootstrap.sh installs it)"
rm -rf kiln-out .kiln src
mkdir src
for i in $(seq 0 39); do echo "s $i" > src/$i.txt; done
for i in $(seq 0 39); do
	echo "command \"t$i\" { inputs = { s = \"src/$i.txt\" }, cmd = \"cat {in.s} > {out}/o\", outputs = { \"o\" } }"
done > Kilnfile
ok kiln build
ran 40
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -o trace -e trace=openat,openat2,open,stat,newfstatat,statx "$KILN_BIN" build > out 2>&1 ||
	{ cat out; fail "the traced no-op failed"; }
grep -q "nothing to do" out || fail "the no-op ran something: $(cat out)"
opened=$(grep -cE 'open(at2?)?\([^"]*"src/' trace || true)
[ "$opened" -eq 0 ] || fail "the no-op opened $opened sources: $(grep -E '"src/' trace | head -5)"
folder=$(grep -cE 'open(at2?)?\([^"]*"src"' trace || true)
[ "$folder" -eq 1 ] || fail "the no-op opened src/ $folder times"
statted=$(grep -cE '"[0-9]+\.txt"' trace || true)
[ "$statted" -eq 40 ] || fail "expected one stat per source (40), got $statted: $(grep -E '\.txt' trace | head -5)"
