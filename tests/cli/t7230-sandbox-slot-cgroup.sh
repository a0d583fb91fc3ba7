# Sandbox: a job slot keeps its cgroups from step to step (issue 19,
# docs/sandbox.md "The step as a whole"). What one step leaves must not
# reach the next: a process moved into the slot's group while step "hold"
# runs (the way a process left behind would be there) is killed before the
# next step starts in it, and counts in no one's memory; each step gets its
# own memory and process limit (lowered and raised again), its own peak,
# and none of an earlier step's OOM kills or refused forks. The groups go
# when kiln ends. Needs the v1 memory and pids hierarchies writable (root).
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (writable v1 memory and pids cgroups)"
mnt=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/self/mounts)
pmnt=$(awk '$3 == "cgroup" && $4 ~ /(^|,)pids(,|$)/ { print $2; exit }' /proc/self/mounts)
[ -n "$mnt" ] && [ -n "$pmnt" ] || skip "no v1 memory and pids hierarchies here"
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
md=$mnt$own
[ -d "$md" ] || md=$mnt
powno=$(awk -F: '$2 ~ /(^|,)pids(,|$)/ { print $3; exit }' /proc/self/cgroup)
pd=$pmnt$powno
[ -d "$pd" ] || pd=$pmnt
[ -w "$md" ] && [ -w "$pd" ] || skip "the v1 memory and pids groups are not writable here"

in_ws "$(id -un)"
# cg: the step's memory group, as the step sees it.
cg="grep -E '^[0-9]+:memory:' /proc/self/cgroup | cut -d: -f3"
cat > Kilnfile <<K
command "procs" { cmd = "$cg > {out}/o; sh -c 'for i in \$(seq 40); do sleep 5 & done; wait' 2>/dev/null || true", outputs = { "o" } }
command "after" { cmd = "sleep 0.2 & sleep 0.2 & wait; $cg > {out}/o", outputs = { "o" } }
command "hold" { cmd = "sleep 4; $cg > {out}/o", outputs = { "o" } }
command "small" { cmd = "python3 -c 'b = bytes([1]) * (60 << 20)'; $cg > {out}/o", outputs = { "o" }, resources = { mem = "100M" } }
command "big" { cmd = "python3 -c 'b = bytes([1]) * (250 << 20)'; $cg > {out}/o", outputs = { "o" }, resources = { mem = "400M" } }
command "tight" { cmd = "python3 -c 'b = bytes([1]) * (150 << 20)'; $cg > {out}/o", outputs = { "o" }, resources = { mem = "100M" } }
command "calm" { cmd = "python3 -c 'b = bytes([1]) * (20 << 20)'; $cg > {out}/o", outputs = { "o" }, resources = { mem = "100M" } }
command "last" { cmd = "$cg > {out}/o", outputs = { "o" } }
K

# While "hold" sleeps, move a process of our own into its groups: once in, it starts 2 others.
# Left there, they would run on in a step's group and count in its processes (22 at most).
KILN_SANDBOX_NPROC=20 KILN_CACHE_DIR="$KILN_CACHE_DIR" "$KILN_BIN" build -k -j1 > build.out 2>&1 &
kb_pid=$!
group=
for i in $(seq 200); do
	[ -e .kiln/logs/hold.log ] || { sleep 0.05; continue; }
	for g in "$md"/kiln-"$kb_pid"-*-s*/g*; do
		[ -n "$(cat "$g/tasks" 2>/dev/null)" ] && group=$g
	done
	[ -n "$group" ] && break
	sleep 0.05
done
[ -n "$group" ] || { wait $kb_pid || true; cat build.out; fail "no slot group kiln-$kb_pid-…-s…/g… with the step in it under $md"; }
pgroup=$pd/${group#"$md"/}
[ -d "$pgroup" ] || fail "no pids group $pgroup beside $group"
sh -c 'echo $$ > "$1/cgroup.procs" && echo $$ > "$2/cgroup.procs" || exit 1
for i in $(seq 2); do sleep 300 & done
: > hog.ready
exec sleep 300' hog "$group" "$pgroup" &
hog=$!
for i in $(seq 100); do [ -e hog.ready ] && break; sleep 0.05; done
[ -e hog.ready ] || fail "the process moved into $group did not start"
# How the process is as each step after hold starts (its log appears before its kiln-run takes a group).
hog_state() { awk '{ print $3 }' "/proc/$hog/stat" 2>/dev/null || echo gone; }
declare -A seen=()
while kill -0 $kb_pid 2>/dev/null; do
	for t in small big tight calm last; do
		[ -n "${seen[$t]:-}" ] || [ ! -e ".kiln/logs/$t.log" ] || seen[$t]=$(hog_state)
	done
	sleep 0.02
done
rc=0
wait $kb_pid || rc=$?
out=$(cat build.out)
[ $rc -eq 1 ] || { printf '%s\n' "$out"; fail "expected kiln build -k to exit 1 (tight fails), got $rc"; }
# The moved process was killed (SIGKILL: 137) before the next step took the group.
hrc=0
wait $hog || hrc=$?
[ $hrc -eq 137 ] || { kill -9 $hog 2>/dev/null; fail "the process left in the slot's group was not killed: exit $hrc"; }
# A step that ran in the process's group killed it before it began: gone by the next step's start.
order=(small big tight calm last)
for i in 0 1 2 3; do
	t=${order[$i]}
	[ "$(cat "kiln-out/$t/o" 2>/dev/null)" = "${group#"$mnt"}" ] || continue
	case ${seen[${order[$((i + 1))]}]:-gone} in
	Z | gone) ;;
	*) fail "$t ran in $group, and the process left there was still running after it" ;;
	esac
done

has "target 'tight' failed: memory limit 100M reached by the step's processes together"
for t in hold small big calm procs after last; do
	[ -s "kiln-out/$t/o" ] || fail "$t did not build"
done
# The slot's groups were reused: the steps share some.
reused=$(cat kiln-out/*/o | sort | uniq -d | wc -l)
[ "$reused" -ge 1 ] || fail "no step reused a slot's group: $(cat kiln-out/*/o)"
grep -q -- "-s[0-9]*/g[0-9]$" kiln-out/small/o || fail "small did not run in a slot's group: $(cat kiln-out/small/o)"

# Each step's peak is its own: small's 60 MiB.
out=$(log_of small)
matches "^kiln: sandbox: limits: memory 100M and 20 processes for all the step's processes together \(cgroup v1: memory, pids\)"
peak=$(sed -n 's/^kiln: sandbox: memory peak \([0-9.]*\) MiB of 100.0 MiB.*/\1/p' .kiln/logs/small.log)
[ -n "$peak" ] || fail "small's log has no peak in MiB: $out"
awk -v p="$peak" 'BEGIN { exit !(p >= 55 && p < 80) }' || fail "small's peak is not its own 60 MiB: $peak MiB"
hasnt "process limit"
# A limit raised (400M after 100M) and lowered again (100M) holds.
out=$(log_of big)
matches "^kiln: sandbox: limits: memory 400M and"
hasnt "memory limit"
hasnt "process limit"
out=$(log_of tight)
has "kiln: sandbox: memory limit 100M reached"
# After an OOM kill in the same slot: none counted for calm, and its peak starts from nothing.
out=$(log_of calm)
hasnt "memory limit 100M reached"
peak=$(sed -n 's/^kiln: sandbox: memory peak \([0-9.]*\) MiB of 100.0 MiB.*/\1/p' .kiln/logs/calm.log)
awk -v p="$peak" 'BEGIN { exit !(p >= 15 && p < 60) }' || fail "calm's peak is not its own 20 MiB: '$peak' MiB"
# Refused forks are procs' alone. (procs runs first: RLIMIT_NPROC, a little above the cgroup's
# limit, counts the user's processes in the slot's user namespace, where earlier steps' setups
# may linger as zombies where nothing reaps orphans, and would refuse the forks before the cgroup.)
out=$(log_of procs)
matches "kiln: sandbox: the step reached its process limit \(20\): the kernel refused [0-9]+ forks?"
out=$(log_of after)
hasnt "process limit"

# kiln removed its slots' groups when it ended.
left=$(ls -d "$md"/kiln-"$kb_pid"-* "$pd"/kiln-"$kb_pid"-* 2>/dev/null || true)
[ -z "$left" ] || fail "the slots' groups stayed after kiln ended: $left"
echo ok
