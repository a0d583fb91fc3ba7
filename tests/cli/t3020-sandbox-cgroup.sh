# Sandbox: a step's memory and processes are limited for the step as a
# whole where it gets a cgroup (issue 16). Ten forked children that each
# touch 150 MiB under mem = "200M" used 1.5 GiB when the limit was per
# process; with a cgroup (as root here) the kernel kills them at 200M and
# kiln says "memory limit 200M reached", though the step itself exits 0.
# A step under the limit builds and logs its peak; processes are counted
# together (pids.max); no group is left behind, and a dead kiln-run's is
# removed (groups are named kiln-PID-START). Without a cgroup (an ordinary user) the log warns that memory
# is limited per process, and the children get their 1.5 GiB.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

# memdir: the v1 memory group kiln-run makes its groups under ("" if none).
memdir() {
	local m p
	m=$(awk '$3 == "cgroup" && $4 ~ /(^|,)memory(,|$)/ { print $2; exit }' /proc/self/mounts)
	[ -n "$m" ] || return 0
	p=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3; exit }' /proc/self/cgroup)
	if [ -d "$m$p" ]; then echo "$m$p"; else echo "$m"; fi
}

# no_dead_groups DIR: no kiln-PID group under DIR whose kiln-run is dead (2 s to go).
no_dead_groups() {
	local tries g pid left
	for tries in $(seq 20); do
		left=
		for g in "$1"/kiln-*; do
			[ -d "$g" ] || continue
			pid=${g##*/kiln-}
			kill -0 "${pid%%-*}" 2>/dev/null || left="$left $g"
		done
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	fail "cgroups left behind:$left"
}

scenario() {
	cat > ten.py <<'P'
import os, time
kids = []
for i in range(10):
    pid = os.fork()
    if pid == 0:
        b = bytes([1]) * (150 << 20)
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
ok = all(os.waitpid(k, 0)[1] == 0 for k in kids)
print("all ten children held 150 MiB each" if ok else "some children died")
P
	own_ws
	cat > Kilnfile <<'K'
command "ten" { inputs = { s = "ten.py" }, cmd = "python3 {in.s} > {out}/o", outputs = { "o" }, resources = { mem = "200M" } }
command "under" { cmd = "python3 -c 'b = bytes([1]) * (50 << 20)' && echo ok > {out}/o", outputs = { "o" }, resources = { mem = "200M" } }
command "procs" { cmd = "for i in $(seq 40); do sleep 5 & done; wait; echo > {out}/o", outputs = { "o" } }
command "again" { cmd = "echo again > {out}/o", outputs = { "o" } }
K
	ok kb build under
	out=$(log_of under)
	if whole under; then
		matches "^kiln: sandbox: limits: memory 200M and [0-9]+ processes for all the step's processes together \(cgroup v[12]: "
		matches "^kiln: sandbox: memory peak [0-9.]+ MiB of 200.0 MiB, all the step's processes together"
		hasnt "warning"

		fails 1 kb build ten
		has "target 'ten' failed: memory limit 200M reached by the step's processes together: the kernel killed"
		out=$(log_of ten)
		has "kiln: sandbox: memory limit 200M reached"
		[ ! -e kiln-out/ten/o ] || fail "a step that lost processes to the memory limit was kept"

		# pids.max counts the step's processes together, and says how many forks it refused.
		KILN_SANDBOX_NPROC=20 fails 1 kb build procs
		out=$(log_of procs)
		matches "kiln: sandbox: the step reached its process limit \(20\): the kernel refused [0-9]+ forks? \(cgroup v"

		# A group whose kiln-run died (killed before it could remove it) goes with the next run.
		local md dead
		md=$(memdir)
		if [ -n "$md" ] && [ -w "$md" ]; then
			sh -c 'exit 0' &
			dead=$!
			wait $dead
			mkdir "$md/kiln-$dead-12345"
			ok kb build again
			[ ! -e "$md/kiln-$dead-12345" ] || { rmdir "$md/kiln-$dead-12345"; fail "the dead kiln-run's cgroup stayed"; }
			no_dead_groups "$md"
		fi
	else
		has "kiln: sandbox: limits: warning: memory 200M for each process (RLIMIT_AS), not for the step as a whole"
		has "since no cgroup could be made ("
		# The shortfall the warning names: each child gets its own 200M.
		ok kb build ten
		same kiln-out/ten/o "all ten children held 150 MiB each"
	fi
}
each_user scenario
