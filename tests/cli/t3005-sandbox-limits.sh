# Sandbox: limits stop a runaway step, and its log says which limit: a fork
# bomb (processes), memory, a file past the size limit, CPU time, and the
# wall-clock timeout, after which nothing of the step is left running.
# KILN_SANDBOX_* set the defaults for targets that declare no limit. Memory
# is the cgroup's where the step gets one (as root here), else RLIMIT_AS's.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

# An ASan-built kiln-run leaves programs it execs no memory limit (see
# docs/sandbox.md); the plugin-side memory test still runs there.
asan=0
nm -D "$build/kiln-run" 2>/dev/null | grep -q __asan_init && asan=1

scenario() {
	use_hostile
	use_crash_plugin
	cat > Kilnfile <<K
command "bomb" { inputs = { h = "bin/hostile" }, cmd = "{in.h} forkbomb", outputs = { "o" } }
command "mem" { inputs = { h = "bin/hostile" }, cmd = "{in.h} mem 2048", outputs = { "o" }, resources = { mem = "64M" } }
kiln.target { name = "pmem", plugin = "crash", params = { how = "mem" }, outputs = { "o" }, resources = { mem = "64M" } }
command "fsize" { cmd = "head -c 8M /dev/zero > {out}/o", outputs = { "o" } }
command "pyfsize" { cmd = "python3 -c 'open(\"{out}/o\", \"wb\").write(bytes(8 << 20))'", outputs = { "o" } }
command "cpu" { cmd = "while :; do :; done", outputs = { "o" } }
command "slow" { cmd = "sleep 4242 & sleep 4243", outputs = { "o" }, resources = { timeout = "1s" } }
command "fine" { cmd = "head -c 100k /dev/zero > {out}/o", outputs = { "o" } }
command "probe" { cmd = "echo > {out}/o", outputs = { "o" } }
K
	ok kb build probe
	KILN_SANDBOX_NPROC=64 fails 1 kb build bomb
	has "target 'bomb' failed"
	out=$(log_of bomb)
	matches "forkbomb: refused after [0-9]+ processes \(Resource temporarily unavailable\)"
	has "kiln: sandbox: the step reached its process limit (64)"

	if whole probe; then
		# The kernel kills what passes the group's limit; kiln says which limit it was.
		fails 1 kb build mem
		has "target 'mem' failed: memory limit 64M reached by the step's processes together"
		out=$(log_of mem)
		has "kiln: sandbox: memory peak 64.0 MiB of 64.0 MiB"
		fails 1 kb build pmem
		has "target 'pmem' failed: memory limit 64M reached"
	elif [ $asan = 0 ]; then
		fails 1 kb build mem
		out=$(log_of mem)
		matches "mem: refused after [0-9]+ MiB \(Cannot allocate memory\)"
		has "of its memory limit (64.0 MiB)"
		n=$(sed -n 's/mem: refused after \([0-9]*\) MiB.*/\1/p' .kiln/logs/mem.log)
		[ "$n" -lt 200 ] || fail "the memory limit let $n MiB through"
	fi
	if ! whole probe; then
		fails 1 kb build pmem
		has "target 'pmem' failed: out of memory after"
		out=$(log_of pmem)
		has "of its memory limit (64.0 MiB)"
	fi

	KILN_SANDBOX_FSIZE=1M fails 1 kb build fsize
	out=$(log_of fsize)
	has "kiln: sandbox: the step reached its file size limit (1.0 MiB)"
	KILN_SANDBOX_FSIZE=1M fails 1 kb build pyfsize
	out=$(log_of pyfsize)
	has "File too large"
	has "kiln: sandbox: the step reached its file size limit (1.0 MiB)"
	KILN_SANDBOX_FSIZE=1M ok kb build fine

	KILN_SANDBOX_CPU=1 fails 1 kb build cpu
	out=$(log_of cpu)
	has "kiln: sandbox: the step reached its CPU time limit (1 s)"

	fails 1 kb build slow
	has "target 'slow' failed"
	has "it ran past its timeout of 1s"
	sleep 0.5
	! pgrep -f "sleep 424[23]" >/dev/null || fail "the timed-out step left processes behind: $(pgrep -af 'sleep 424')"

	# None of it was a message for a step that stayed within its limits.
	out=$(log_of fine)
	hasnt "reached"
	hasnt "of its memory limit"
}
each_user scenario
