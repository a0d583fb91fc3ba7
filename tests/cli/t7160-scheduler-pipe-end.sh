# Scheduler: a step whose status pipe has reached its end while its process
# still runs (here a plugin that closes it, then sleeps 2 s before it
# returns) costs kiln no CPU meanwhile. kiln waited for the exit by polling
# the pipe, which stays readable at its end: it spun on poll, read and
# waitpid until the step was reaped (0.7 s of CPU for those 2 s here).
# Run with the sandbox off, where the plugin's process holds the pipe's
# only copy; with it on, kiln-run's own copy keeps it open until it exits.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

in_ws "$(id -un)"
use_crash_plugin
cat > Kilnfile <<'K'
kiln.target { name = "slow", plugin = "crash", params = { how = "linger" }, outputs = { "o" } }
K
# Describe the plugin first, so the timed build runs the step alone.
ok kb build --sandbox off --dry-run
TIMEFORMAT='%R %U %S'
t=$( { time kb build -q --sandbox off slow > build.out 2>&1; } 2>&1 ) || { cat build.out; fail "the build failed"; }
same kiln-out/slow/o ok
read -r wall user sys <<< "$t"
awk -v w="$wall" 'BEGIN { exit !(w >= 2) }' || fail "the step did not linger (wall ${wall}s)"
awk -v u="$user" -v s="$sys" 'BEGIN { exit !(u + s < 0.3) }' ||
	fail "kiln used ${user}s user and ${sys}s system CPU while the step lingered 2 s with its pipe closed"
