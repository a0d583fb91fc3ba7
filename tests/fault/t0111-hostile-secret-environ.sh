# Hostile step, issue 10 item 1 (the secret): `ln -s /proc/self {out}/p`
# with outputs = { "p/environ" } had kiln collect its *own*
# /proc/self/environ as the step's output: the remote's bearer token in
# KILN_REMOTE_HEADER was stored in the local cache and uploaded to the
# remote, even when the step failed. kiln's environment must never reach
# the local cache, the remote, kiln-out or the workspace's files; the step
# fails, naming it and the link. Variants: the step exits 0 or 3, the link
# is to /proc/self/environ itself, or to /proc/1 (the sandbox's init).
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/cli/nginx.sh"
. "$top/tests/fault/hostile.sh"

token=kiln-secret-$RANDOM$RANDOM-token
start_nginx "$scratch/srv" "$token"
export KILN_REMOTE_HEADER="Authorization: Bearer $token"
export KILN_TEST_SECRET="another-$token"

scenario() {
	victim "$HOME/.netrc" "machine example.org password $token"
	cat >Kilnfile <<'K'
command "leak" { cmd = "ln -s /proc/self {out}/p", outputs = { "p/environ" } }
command "leak_fail" { cmd = "ln -s /proc/self {out}/p; exit 3", outputs = { "p/environ" } }
command "leak_file" { cmd = "ln -s /proc/self/environ {out}/e", outputs = { "e" } }
command "leak_init" { cmd = "ln -s /proc/1 {out}/p", outputs = { "p/environ", "p/cmdline" } }
command "fine" { cmd = "echo fine > {out}/o", outputs = { "o" } }
K
	own_ws
	# The remote works and takes uploads with the token.
	ok kb build --remote "$remote" fine
	[ -n "$(find "$scratch/srv/data" -type f)" ] || fail "as $who: nothing was uploaded: the test proves nothing"
	for t in leak leak_fail leak_file leak_init; do
		refused kb build --remote "$remote" $t
		names "target '$t'"
		case $t in leak_fail) ;; *) names "target '$t'" "link|/proc" ;; esac
	done
	nowhere "$token" "$KILN_CACHE_DIR" "$scratch/srv/data" kiln-out .kiln/tmp Kilnfile.lock
	untouched
}
each_user scenario
