# Sandbox: the job slots' shared roots (mount namespaces kiln holds for the
# build, docs/sandbox.md "Cost") go when the build does, on success and on
# Ctrl-C: afterwards no process on the machine is in one or holds one open,
# and none of kiln's processes (kiln-run, a step's) is left.
. "$(dirname "$0")/lib.sh"

# A kiln of our own, so that its kiln-run is told apart from other tests' by its path.
mkdir -p "$scratch/k/plugins"
cp "$build/kiln" "$build/kiln-run" "$scratch/k/"
cp "$build"/plugins/*.so "$scratch/k/plugins/"
K=$scratch/k/kiln
runner=$scratch/k/kiln-run

# mnt_of PID: the mount namespaces PID holds open (descriptors), one a line.
mnt_of() {
	local f
	for f in /proc/"$1"/fd/*; do readlink "$f" 2>/dev/null; done | grep '^mnt:' | sort -u || true
}

# left: processes running our kiln-run, or in or holding one of the namespaces in the file held.
left() {
	{
		find /proc/[0-9]*/exe -maxdepth 0 -lname "$runner" -printf '%p\n'
		find /proc/[0-9]*/ns/mnt /proc/[0-9]*/fd -maxdepth 1 -lname 'mnt:*' -printf '%p %l\n' | grep -F -f held
	} 2>/dev/null | sort -u || true
}

# gone WHEN: wait a little for what is left to go, then fail naming it.
gone() {
	local i l
	for i in $(seq 50); do
		l=$(left)
		[ -z "$l" ] && return 0
		sleep 0.1
	done
	fail "left $1: $l"
}

mkdir -p src
for i in 1 2 3 4; do echo "s$i" > src/$i.txt; done
cat > Kilnfile <<'K'
command "a" { inputs = { s = "src/1.txt" }, cmd = "cat {in.s} > {out}/o", outputs = { "o" } }
command "b" { inputs = { s = "src/2.txt" }, cmd = "cat {in.s} > {out}/o; sleep 0.5", outputs = { "o" } }
command "slow" { inputs = { s = "src/3.txt" }, cmd = "touch /tmp/x; echo started > {out}/o; sleep 30.7182", outputs = { "o" } }
command "slow2" { inputs = { s = "src/4.txt" }, cmd = "sleep 30.7182", outputs = { "o" } }
K

# Ctrl-C while two steps run: catch the namespaces kiln holds meanwhile, then check they are gone.
"$K" build -j2 slow slow2 > int.out 2>&1 &
pid=$!
for i in $(seq 200); do
	mnt_of $pid > held
	[ "$(wc -l < held)" -ge 2 ] && pgrep -f 'sleep 30.7182' >/dev/null && break
	sleep 0.05
done
[ "$(wc -l < held)" -ge 2 ] || fail "kiln held no shared roots for its 2 job slots ($(cat held)): $(cat int.out)"
kill -INT $pid
rc=0; wait $pid || rc=$?
[ $rc -eq 130 ] || fail "kiln exited $rc after SIGINT: $(cat int.out)"
gone "after Ctrl-C"
! pgrep -f 'sleep 30.7182' >/dev/null || fail "a step's sleep outlived kiln: $(pgrep -af 'sleep 30.7182')"

# A build that ends well: the same.
"$K" build -j2 a b > ok.out 2>&1 &
pid=$!
: > held
for i in $(seq 100); do mnt_of $pid >> held; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
rc=0; wait $pid || rc=$?
[ $rc -eq 0 ] || fail "build failed: $(cat ok.out)"
same kiln-out/a/o s1
sort -u held -o held
[ -s held ] || fail "kiln held no shared root while the build ran: $(cat ok.out)"
gone "after the build"
