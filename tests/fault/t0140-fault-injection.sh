# Failure injection (KILN_FAULT, core/fault.h): the Nth write, rename or
# allocation fails. kiln says why and exits non-zero, or recovers; kiln
# fsck finds nothing bad after it and the next build is a clean build's.
# The hook's own behaviour first, then bugs it found, then a sample of
# tools/fault-inject.sh over a local pipeline (the tool alone tries every N).
. "$(dirname "$0")/../cli/lib.sh"
"$KILN_BIN" --version | grep -q 'failure injection' ||
	skip "$KILN_BIN has no failure injection (the sanitizer build has it: make SAN=1)"

for i in 1 2 3; do
	printf 'command "t%d" { cmd = "echo %d > {out}/o", outputs = { "o" } }\n' $i $i
done >Kilnfile

# The spec is checked; N=0 only counts, naming each call's module and line.
KILN_FAULT=bogus:1 fails 2 kiln build
has "KILN_FAULT='bogus:1': expected KIND:N[+][@MODULE]"
KILN_FAULT=write:0 KILN_FAULT_LOG=$scratch/count ok kiln build
ran 3
grep -q '^call write 1 state:[0-9]*$' "$scratch/count" || fail "no counted state write: $(cat "$scratch/count")"
grep -qE '^calls write [0-9]+$' "$scratch/count" || fail "no call count: $(cat "$scratch/count")"
ok kiln fsck
rm -rf .kiln kiln-out Kilnfile.lock "$KILN_CACHE_DIR"

# A state write that fails once: the log is written anew from memory, nothing is lost.
KILN_FAULT=write:2@state KILN_FAULT_LOG=$scratch/log ok kiln build
grep -q '^fail write 2 state:' "$scratch/log" || fail "the 2nd state write was not failed: $(cat "$scratch/log")"
hasnt "error"
ok kiln build
has "nothing to do"
# A disk that stays full for the state: the build says so and fails; the next one is sound.
printf 'command "t4" { cmd = "echo 4 > {out}/o", outputs = { "o" } }\n' >>Kilnfile
KILN_FAULT=write:1+@state fails 1 kiln build
has "cannot write .kiln/state: No space left on device; the next build checks again what this one did"
ok kiln build
ran 0
same kiln-out/t4/o 4
ok kiln build
has "nothing to do"

# Kilnfile.lock that cannot be written fails the build, and the next build writes it
# (it used to trust the lock's old stat and leave it stale).
cp Kilnfile.lock lock.before
sed -i 's/echo 4/echo four/' Kilnfile
KILN_FAULT=write:1@lock fails 1 kiln build
has "cannot write Kilnfile.lock: No space left on device"
cmp -s Kilnfile.lock lock.before || fail "Kilnfile.lock changed though its write failed"
ok kiln build
has "nothing to do"
! cmp -s Kilnfile.lock lock.before || fail "the next build left Kilnfile.lock stale"
ok kiln status --check
# The same when kiln dies (out of memory) while writing it.
sed -i 's/echo four/echo 4/' Kilnfile
cp Kilnfile.lock lock.before
ASAN_OPTIONS=$ASAN_OPTIONS:detect_leaks=0 KILN_FAULT=alloc:1@lock fails 2 kiln build
has "kiln: out of memory"
cmp -s Kilnfile.lock lock.before || fail "Kilnfile.lock changed though kiln died before writing it"
ok kiln build
ok kiln status --check

# An output that cannot be moved into place names the paths and the cause.
rm -rf .kiln kiln-out Kilnfile.lock "$KILN_CACHE_DIR"
KILN_FAULT=rename:1@outputs fails 1 kiln build
matches "cannot move \.kiln/tmp/t[0-9]/out/o to \.kiln/tmp/t[0-9]/final/o: Input/output error"
ok kiln build
ok kiln status --check

# A sample of the tool's runs (about 3 values of N per kind and scenario;
# tools/fault-inject.sh alone tries them all).
sample() {
	local kinds=$1
	shift
	FAULT_MAX=3 FAULT_KINDS=$kinds ok "$top/tools/fault-inject.sh" "$@"
	printf '%s\n' "$out" | tail -8
	has " 0 problems"
}
sample "write rename alloc@state alloc@cache" fresh
matches "^  write +[0-9]+:.* state [0-9]+"
matches "^  rename +[0-9]+:.* state [0-9]+"
matches "^  alloc +[0-9]+:.* cache [0-9]+"
sample "write+ alloc@lock" incremental
matches "^  alloc +[0-9]+:.* lock [0-9]+"
sample "rename alloc@cache" fsck
matches "^  rename +[0-9]+:.* cache [0-9]+"
