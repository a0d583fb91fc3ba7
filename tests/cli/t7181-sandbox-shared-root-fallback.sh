# Sandbox: a step the job slot's shared root cannot hold, one with an
# absolute source outside the workspace (its mount point is not in the
# shared, read-only root), builds its whole root as before: it sees its
# source read-only at its own path and still nothing of the host's tree.
# A step beside it in the same build runs on the shared root. And with
# KILN_SANDBOX_NO_SHARED_ROOT set, no step does: every one builds its own.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	shared=$scratch/shared-$who
	rm -rf "$shared"
	mkdir -p "$shared"
	echo "from afar" > "$shared/data.txt"
	[ "$who" != nobody ] || chown -R nobody:nogroup "$shared"
	echo "near" > near.txt
	# What the step sees: is /workspace a mount of its own (the shared root's tmpfs), and its input.
	cat > probe.sh <<'P'
awk '$5 == "/workspace" { for (i = 7; $i != "-"; i++); print "ws fs: " $(i + 1) }' /proc/self/mountinfo
cat "$1"
touch "$(dirname "$1")/x" 2>/dev/null && echo wrote
[ -e "$HOSTWS" ] && echo saw host ws
[ -e /home ] && echo saw home
true
P
	cat > Kilnfile <<K
command "far" { inputs = { d = "$shared/", p = "probe.sh" }, env = { HOSTWS = "$PWD" }, cmd = "sh {in.p} {in.d}/data.txt > {out}/o", outputs = { "o" } }
command "near" { inputs = { n = "near.txt", p = "probe.sh" }, env = { HOSTWS = "$PWD" }, cmd = "sh {in.p} {in.n} > {out}/o", outputs = { "o" } }
K
	own_ws
	ok kb build -j1
	ran 2
	o=kiln-out/far/o
	grep -q "^from afar$" $o || fail "$who: the absolute source is not visible: $(cat $o)"
	# Not the shared root's: /workspace is no mount of its own there.
	! grep -q "^ws fs:" $o || fail "$who: a step with an absolute source ran on the shared root: $(cat $o)"
	! grep -q "wrote\|saw host ws\|saw home" $o || fail "$who: the fallback step saw or wrote too much: $(cat $o)"
	[ ! -e "$shared/x" ] || fail "$who: the absolute source was written"
	grep -q "^ws fs: tmpfs$" kiln-out/near/o || fail "$who: the plain step did not run on the shared root: $(cat kiln-out/near/o)"
	grep -q "^near$" kiln-out/near/o || fail "$who: the plain step lost its input: $(cat kiln-out/near/o)"
	# Without the shared root, the plain step builds its own too, and still works.
	rm -rf kiln-out .kiln "$KILN_CACHE_DIR"/*
	ok env KILN_SANDBOX_NO_SHARED_ROOT=1 "${as[@]}" env KILN_CACHE_DIR="$KILN_CACHE_DIR" HOME="$HOME" "$KILN_BIN" build -j1 near
	ran 1
	same kiln-out/near/o near
}
each_user scenario
