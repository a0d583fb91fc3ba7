# Sandbox: where the machine forbids user namespaces, the step fails with a
# message that says what is missing and how to go on, and --sandbox off then
# builds (with a warning). Namespaces are forbidden here by setting
# max_user_namespaces to 0 inside a user namespace of the test's own.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	cat > Kilnfile <<'K'
command "x" { cmd = "echo hi > {out}/o", outputs = { "o" } }
command "y" { cmd = "id -un > {out}/o", outputs = { "o" } }
K
	cat > forbid.sh <<S
echo 0 > /proc/sys/user/max_user_namespaces || exit 99
env KILN_CACHE_DIR="$KILN_CACHE_DIR" "$KILN_BIN" "\$@"
S
	fails 1 asu unshare -Ur sh forbid.sh build x
	has "target 'x' failed: sandbox: cannot create the sandbox's namespaces"
	has "unshare: No space left on device"
	has "max_user_namespaces"
	has "--sandbox=off builds without the sandbox"
	[ ! -e kiln-out/x/o ] || fail "a step ran without its sandbox"
	ok asu unshare -Ur sh forbid.sh build --sandbox off x
	has "warning: --sandbox=off"
	same kiln-out/x/o hi
	# Root of a user namespace (not of the machine) builds in the sandbox too.
	ok asu unshare -Ur env KILN_CACHE_DIR="$KILN_CACHE_DIR" "$KILN_BIN" build y
	ran 1
	same kiln-out/y/o kiln
}
each_user scenario
