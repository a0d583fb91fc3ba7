# Failure injection (KILN_FAULT) in the remote-cache client, against nginx:
# a sample of tools/fault-inject.sh's push and pull scenarios (the tool
# alone tries every N). A failed write, rename or allocation, kiln's or
# libcurl's, costs a transfer or the run, never a damaged local cache, a
# damaged remote, or a wrong next build.
. "$(dirname "$0")/../cli/lib.sh"
"$KILN_BIN" --version | grep -q 'failure injection' ||
	skip "$KILN_BIN has no failure injection (the sanitizer build has it: make SAN=1)"
command -v nginx >/dev/null || fail "nginx is not installed (bootstrap.sh installs nginx-light)"

# The protocol is remote.c; the transfers (a download's writes and rename) are transfer.c.
FAULT_MAX=3 FAULT_KINDS="write rename alloc@remote alloc@transfer alloc@libcurl" ok "$top/tools/fault-inject.sh" pull
printf '%s\n' "$out" | tail -8
has " 0 problems"
matches "^  write +[0-9]+:.* transfer [0-9]+"
matches "^  rename +[0-9]+:.* transfer [0-9]+"
matches "^  alloc +[0-9]+:.* libcurl 1 .*remote [0-9]+"
FAULT_MAX=3 FAULT_KINDS="alloc@remote alloc@transfer alloc@libcurl" ok "$top/tools/fault-inject.sh" push
printf '%s\n' "$out" | tail -8
has " 0 problems"
matches "^  alloc +[0-9]+:.* remote [0-9]+"
