# Sandbox: the seccomp filter refuses what a build step has no business doing
# (ptrace, mount, namespaces, kernel modules, keyrings, bpf) with EPERM, and
# the step's log names the call.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	use_hostile
	{
		for w in ptrace mount unshare module keyctl bpf; do
			echo "command \"$w\" { inputs = { h = \"bin/hostile\" }, cmd = \"{in.h} $w\", outputs = { \"o\" } }"
		done
		echo 'command "nested" { cmd = "unshare -Ur true", outputs = { "o" } }'
		echo 'command "strace" { cmd = "python3 -c \"import ctypes; print(ctypes.CDLL(None).ptrace(16, 1, 0, 0))\"; exit 1", outputs = { "o" } }'
	} > Kilnfile
	for w in ptrace:ptrace mount:mount unshare:unshare module:finit_module keyctl:add_key bpf:bpf; do
		t=${w%%:*}
		fails 1 kb build "$t"
		has "target '$t' failed"
		has "$t: refused (Operation not permitted)"
		has "kiln: sandbox: refused ${w#*:}() by 'hostile'"
		hasnt ALLOWED
	done
	fails 1 kb build nested
	has "kiln: sandbox: refused unshare() by 'unshare'"
	fails 1 kb build strace
	has "kiln: sandbox: refused ptrace() by 'python3'"
	has "| -1"
}
each_user scenario
