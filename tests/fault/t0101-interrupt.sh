# SIGINT or SIGTERM during a build: every step stops, no partial output or
# cache entry remains, and the next build finishes correctly.
. "$(dirname "$0")/../cli/lib.sh"
cat > Kilnfile <<'K'
command "slow1" { cmd = "echo started > {out}/o; sleep 30; echo done >> {out}/o", outputs = { "o" } }
command "slow2" { cmd = "echo started > {out}/o; sleep 30; echo done >> {out}/o", outputs = { "o" } }
command "fast" { cmd = "echo fast > {out}/o", outputs = { "o" } }
K
for sig in INT TERM; do
	rm -rf kiln-out .kiln
	"$KILN_BIN" build -j3 > log 2>&1 &
	pid=$!
	# Wait until both slow steps are running and the fast one is done (its start,
	# third, may come after theirs on a loaded machine).
	for i in $(seq 100); do
		n=$(ls .kiln/tmp/slow*/out/o 2>/dev/null | wc -l)
		[ "$n" -ge 2 ] && [ -e kiln-out/fast/o ] && break
		sleep 0.1
	done
	[ "$n" -ge 2 ] || fail "the slow steps did not start"
	[ -e kiln-out/fast/o ] || fail "the fast step did not finish"
	kill -$sig $pid
	rc=0
	wait $pid || rc=$?
	[ $rc -eq $((128 + $(kill -l $sig))) ] || { cat log; fail "exit $rc after SIG$sig"; }
	grep -q "interrupted by" log || fail "no message after SIG$sig"
	[ ! -e kiln-out/slow1 ] && [ ! -e kiln-out/slow2 ] || fail "partial outputs left after SIG$sig"
	[ -z "$(ls .kiln/tmp 2>/dev/null)" ] || fail ".kiln/tmp not cleaned after SIG$sig: $(find .kiln/tmp)"
	# No sleep of ours survives: the steps' process groups were stopped.
	for p in $(pgrep -x sleep || true); do
		if grep -q "$scratch" /proc/$p/cwd 2>/dev/null || [ "$(readlink /proc/$p/cwd)" = "$PWD" ]; then
			fail "a step's process (pid $p) survived SIG$sig"
		fi
	done
done
sed -i 's/sleep 30/sleep 0.1/' Kilnfile
ok kiln build
ran 2
same kiln-out/slow1/o "started
done"
