# Sandbox: a step cannot signal kiln, the test, or a sibling step running
# beside it: it has its own pid namespace, where nothing else exists.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# The lingering step's sleeps: numbers no other run of this test uses, so
# pgrep finds this run's processes only.
s1=$((4200000 + $$ * 2))
s2=$((s1 + 1))

scenario() {
	use_hostile
	cat > Kilnfile <<K
command "sibling" { cmd = "sleep 1; echo alive > {out}/o", outputs = { "o" } }
command "killer" { inputs = { h = "bin/hostile" }, cmd = "sleep 0.3; {in.h} kill $$; {in.h} kill $PPID; {in.h} kill", outputs = { "o" } }
command "linger" { cmd = "sleep $s1 & sleep $s2", outputs = { "o" } }
command "ps" { cmd = "ps -e -o pid=,comm= > {out}/o", outputs = { "o" } }
K
	fails 1 kb build -j2 -k sibling killer
	has "target 'killer' failed"
	# kiln lived to say how the build went.
	has "1 failed"
	out=$(log_of killer)
	has "kill: signalled 0 processes"
	[ "$(grep -c 'kill: refused (No such process)' .kiln/logs/killer.log)" = 3 ] ||
		fail "expected three refused kills: $out"
	hasnt ALLOWED
	same kiln-out/sibling/o alive
	# Killing kiln-run (as kiln does at a timeout) kills everything in the step.
	kb build linger > linger.out 2>&1 &
	k=$!
	for i in $(seq 100); do pgrep -f "sleep $s2" >/dev/null && break; sleep 0.05; done
	pgrep -f "sleep $s2" >/dev/null || fail "the step did not start"
	runner=
	for pid in $(descendants $k); do
		if [ "$(cat /proc/$pid/comm)" = kiln-run ] && [ "$(cat /proc/$(ps -o ppid= $pid | tr -d ' ')/comm)" = kiln ]; then
			runner=$pid
		fi
	done
	[ -n "$runner" ] || fail "no kiln-run under kiln"
	kill -KILL "$runner"
	wait $k || true
	sleep 0.3
	! pgrep -f "sleep ($s1|$s2)" >/dev/null || fail "killing kiln-run left the step running: $(pgrep -af "sleep ($s1|$s2)")"

	# Inside, only the step's own processes exist.
	ok kb build ps
	# (kiln-run as the namespace's init and as the step, the shell, ps).
	[ "$(wc -l < kiln-out/ps/o)" -le 4 ] || fail "a step sees other processes: $(cat kiln-out/ps/o)"
	! grep -vqE ' (kiln-run|sh|ps)$' kiln-out/ps/o || fail "a step sees others: $(cat kiln-out/ps/o)"
	grep -qE '^ *1 kiln-run$' kiln-out/ps/o || fail "no init of its own: $(cat kiln-out/ps/o)"
}
each_user scenario
