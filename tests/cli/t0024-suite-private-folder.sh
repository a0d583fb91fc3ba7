# The sandbox tests pass from a clone in a folder only root can enter (as
# /root/kiln or a mktemp -d folder is): run as root, they also run kiln as
# nobody, who cannot reach such a build. This runs three of them from a copy
# of the tests and the build in a mode-700 folder. It copies the build
# rather than cloning and compiling again, which would take minutes on a
# small CI machine: what matters is where the files lie, not who built them.
# Every t300x test reached kiln the same way (tests/sandbox/lib.sh), so three
# prove it: files, syscalls and what must work. Not t3004 or t3005, which
# look for their steps' processes by name and would see the same tests of
# the suite this one runs beside.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "skip: only root's sandbox tests run kiln as another user"; exit 0; }
command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 0; }

priv=$(mktemp -d "$scratch/private.XXXXXX")
chmod 700 "$priv"
mkdir -p "$priv/build/plugins"
cp "$build/kiln" "$build/kiln-run" "$priv/build/"
cp "$build"/plugins/*.so "$priv/build/plugins/"
cp -r "$top/tests" "$top/include" "$priv/"
if setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -x "$priv/build/kiln"; then
	fail "nobody can reach $priv/build/kiln: the test proves nothing"
fi
# The inner scratch folders stay in /tmp, where every user can enter them.
rc=0
out=$(env -u KILN_TOP KILN_BUILD="$priv/build" KILN_TEST_JOBS=1 TMPDIR=/tmp "$priv/tests/run.sh" t3001 t3003 t3007 2>&1) || rc=$?
[ $rc -eq 0 ] || { printf '%s\n' "$out" >&2; fail "the sandbox tests fail from a folder nobody can enter (exit $rc)"; }
matches "^3 passed, 0 failed$"
hasnt "Permission denied"
