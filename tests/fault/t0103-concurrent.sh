# Two kilns in one workspace: the second waits for the first. Two workspaces
# sharing one cache build at once without corrupting it.
. "$(dirname "$0")/../cli/lib.sh"
cat > Kilnfile <<'K'
command "slow" { cmd = "sleep 1; echo s > {out}/o", outputs = { "o" } }
K
"$KILN_BIN" build > first.log 2>&1 &
p1=$!
sleep 0.3
ok kiln build
has "another kiln (pid $p1) is using this workspace; waiting"
has "nothing to do"
wait $p1
cd ..
for w in w1 w2 w3; do
	mkdir $w
	for i in $(seq 1 30); do
		printf 'command "t%d" { cmd = "seq 1 %d > {out}/o; head -c 100000 /dev/urandom | od > {out}/r", outputs = { "o", "r" } }\n' "$i" "$((i * 1000))"
	done > $w/Kilnfile
done
(cd w1 && kiln build -j3 > ../w1.log 2>&1) &
a=$!
(cd w2 && kiln build -j3 > ../w2.log 2>&1) &
b=$!
(cd w3 && kiln build -j3 > ../w3.log 2>&1) &
c=$!
wait $a || fail "w1 failed: $(cat w1.log)"
wait $b || fail "w2 failed: $(cat w2.log)"
wait $c || fail "w3 failed: $(cat w3.log)"
ok kiln fsck
has ", 0 bad"
for w in w1 w2 w3; do
	(cd $w && rm -rf kiln-out && kiln build >/dev/null 2>&1) || fail "$w rebuild"
	[ "$(wc -l < $w/kiln-out/t30/o)" -eq 30000 ] || fail "$w: wrong restored output"
done
