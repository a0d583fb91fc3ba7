# The step server (kiln-run --serve, core/stepserver.h): sandboxed steps in
# a job slot's namespaces are forked by one kiln-run per build, not spawned
# (exec'd) one by one. A step built through it behaves as before (output,
# log, status, a failure's message, a timeout), no kiln-run zombie waits
# for the machine's pid 1 during the build, SIGINT leaves no process of the
# build behind (checked by pid), and steps that cannot use the server
# (network = true, KILN_SANDBOX_NO_SERVER) are spawned as before.
. "$(dirname "$0")/lib.sh"

# Sleeps no other run of this test uses.
s1=$((4300000 + $$ * 4))
s2=$((s1 + 1))
s3=$((s1 + 2))

{
	for i in $(seq 80); do echo "command \"q$i\" { cmd = \"echo q$i > {out}/o\", outputs = { \"o\" } }"; done
	cat <<K
command "hello" { cmd = "echo to-stdout; echo to-stderr >&2; echo built > {out}/o", outputs = { "o" } }
command "bad" { cmd = "echo oops; exit 3", outputs = { "o" } }
command "slow" { cmd = "sleep $s1 & sleep $s1", outputs = { "o" }, resources = { timeout = "1s" } }
command "long" { cmd = "sleep $s2", outputs = { "o" } }
command "victim" { cmd = "sleep $s3", outputs = { "o" } }
command "net" { cmd = "echo net > {out}/o", outputs = { "o" }, network = true }
K
} > Kilnfile

# cmdline PID: the process's arguments, space-separated.
cmdline() { { tr '\0' ' ' < "/proc/$1/cmdline"; } 2>/dev/null || true; }
# stat_field PID N: field N of /proc/PID/stat (after the name, which has no space here).
stat_field() { awk -v n="$2" '{print $n}' "/proc/$1/stat" 2>/dev/null || true; }
# in_session SID [STATE]: the pids of the processes of session SID (in STATE only, when given).
in_session() {
	awk -v s="$1" -v st="${2:-}" '$6 == s && (st == "" || $3 == st) {print $1}' /proc/[0-9]*/stat 2>/dev/null || true
}
# children PID: its child processes.
children() {
	awk -v p="$1" '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null || true
}
# running ARG: is there a process whose arguments end in ARG?
running() {
	local f
	for f in /proc/[0-9]*/cmdline; do
		[ "$( { tr '\0' ' ' < "$f"; } 2>/dev/null)" = "sleep $1 " ] && return 0
	done
	return 1
}

# A step as before: its output, its log (the sandbox's lines around the step's own), its status.
ok kiln build hello
same kiln-out/hello/o built
log=$(cat .kiln/logs/hello.log)
[ "$(head -1 .kiln/logs/hello.log | cut -c1-24)" = "kiln: sandbox: limits: m" ] || fail "log's first line: $log"
grep -qx to-stdout .kiln/logs/hello.log && grep -qx to-stderr .kiln/logs/hello.log || fail "log: $log"
tail -1 .kiln/logs/hello.log | grep -q "^kiln: sandbox: memory peak" || fail "log's last line: $log"

fails 1 kiln build bad
has "Kilnfile:82: target 'bad' failed: the command exited with status 3"
has "  | oops"

# A timeout kills the step and everything it started.
fails 1 kiln build slow
has "target 'slow' failed: it ran past its timeout of 1s and was stopped"
sleep 0.3
! running $s1 || fail "the timed-out step left a process running"

# During a build: the steps' kiln-runs are the server's children, none is
# exec'd by kiln, and no zombie of the 80 steps before stands in the session.
rm -rf kiln-out .kiln
setsid sh -c 'echo $$ > sid; exec "$0" build -j2 long $(seq -f q%g 80) > build.out 2>&1' "$KILN_BIN" &
bg=$!
# The most zombies standing at once in the build's session, while its steps start and end.
most=0
for i in $(seq 400); do
	sid=$(cat sid 2>/dev/null || true)
	z=$([ -n "$sid" ] && in_session "$sid" Z | wc -l || echo 0)
	[ "$z" -gt "$most" ] && most=$z
	[ "$(ls kiln-out 2>/dev/null | grep -c '^q')" = 80 ] && running $s2 && break
	sleep 0.02
done
running $s2 || fail "the long step did not start: $(cat build.out)"
[ "$most" -le 10 ] || fail "$most zombies stood in the build's session at once"
server=
for c in $(children "$sid"); do
	[ "$(cmdline "$c")" = "$(cmdline "$sid" | cut -d' ' -f1 | sed 's/kiln$/kiln-run/') --serve " ] && server=$c
done
[ -n "$server" ] || fail "no kiln-run --serve under kiln ($(for c in $(children "$sid"); do cmdline "$c"; echo; done))"
[ -n "$(children "$server")" ] || fail "the long step's kiln-run is not the server's child"
for p in $(in_session "$sid"); do
	case "$(cmdline "$p")" in *spec.json*) fail "kiln spawned a kiln-run for a step: $(cmdline "$p")" ;; esac
done

# SIGINT stops the build and leaves none of its processes (these pids).
pids=$(in_session "$sid")
kill -INT "$sid"
rc=0
wait $bg || rc=$?
[ $rc -eq 130 ] || fail "exit $rc after SIGINT: $(cat build.out)"
grep -q "interrupted by" build.out || fail "no message after SIGINT: $(cat build.out)"
for i in $(seq 50); do
	left=
	for p in $pids; do [ "$(stat_field "$p" 6)" = "$sid" ] && left="$left $p"; done
	[ -z "$left" ] && break
	sleep 0.1
done
[ -z "$left" ] || fail "processes of the build left after SIGINT:$left ($(for p in $left; do cat /proc/$p/stat; done))"
! running $s2 || fail "the long step survived SIGINT"

# A lost server (killed here by its pid): its step fails, saying so; the next build is whole.
"$KILN_BIN" build victim > victim.out 2>&1 &
bg=$!
for i in $(seq 200); do running $s3 && break; sleep 0.05; done
server=
for c in $(children $bg); do case "$(cmdline "$c")" in *" --serve ") server=$c ;; esac; done
[ -n "$server" ] || fail "no server under kiln"
kill -KILL "$server"
rc=0
wait $bg || rc=$?
[ $rc -eq 1 ] || fail "exit $rc when the server was lost: $(cat victim.out)"
grep -q "target 'victim' failed: it was killed by signal 9" victim.out || fail "$(cat victim.out)"
sleep 0.3
! running $s3 || fail "the lost server's step is still running"
ok kiln build q1 hello

# Without the server: each step spawned as before, with the same result.
rm -rf kiln-out .kiln
KILN_CACHE_DIR=$scratch/cache2 KILN_SANDBOX_NO_SERVER=1 ok kiln build hello net
same kiln-out/hello/o built
same kiln-out/net/o net
grep -qx to-stderr .kiln/logs/hello.log || fail "log: $(cat .kiln/logs/hello.log)"
