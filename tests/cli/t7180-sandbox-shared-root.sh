# Sandbox: a step that needs nothing beyond the workspace runs on its job
# slot's shared root (docs/sandbox.md, "Cost"): a copy of a mount namespace
# kiln made once per build, with a tmpfs at /workspace holding its own
# mounts. Two steps one after another in the same slot see nothing of each
# other's /tmp or output folder, neither sees the host's tree or an
# undeclared file, inputs and the root are read-only, and the shared root
# is not changed by a step that tries.
. "$(dirname "$0")/lib.sh"
. "$top/tests/sandbox/lib.sh"

scenario() {
	echo "one" > in1.txt
	echo "two" > in2.txt
	echo "not declared" > secret.txt
	own_ws
	# Each step leaves a mark in /tmp and its output, tries to write where it may not, and reports what it sees.
	cat > probe.sh <<'P'
me=$1; out=$2; in=$3
echo "mark $me" > /tmp/mark-$me
: > "$out/mine-$me"
{
	echo "tmp: $(ls /tmp | tr '\n' ' ')"
	echo "outs: $(ls /workspace/.kiln/tmp 2>/dev/null | tr '\n' ' ')"
	awk '$5 == "/workspace" { for (i = 7; $i != "-"; i++); print "ws fs: " $(i + 1) " " $6 }' /proc/self/mountinfo
	[ -e /workspace/secret.txt ] && echo "saw secret"
	[ -e "$HOSTWS" ] && echo "saw host ws"
	[ -e /home ] || [ -e /root ] || [ -e /var ] && echo "saw host tree"
	echo x >> "$in" 2>/dev/null && echo "wrote input"
	touch /shared-$me /etc/shared-$me /workspace/shared-$me /dev/shared-$me 2>/dev/null && echo "wrote root"
	ls / /etc /dev | tr '\n' ' ' | grep -q shared- && echo "root changed"
	true
} > "$out/o"
P
	own_ws
	cat > Kilnfile <<K
command "a" { inputs = { s = "probe.sh", i = "in1.txt" }, env = { HOSTWS = "$PWD" }, cmd = "sh {in.s} a {out} {in.i}", outputs = { "o", "mine-a" } }
command "b" { inputs = { s = "probe.sh", i = "in2.txt" }, env = { HOSTWS = "$PWD" }, cmd = "sh {in.s} b {out} {in.i}", outputs = { "o", "mine-b" } }
K
	own_ws
	ok kb build -j1
	ran 2
	for t in a b; do
		o=kiln-out/$t/o
		has_in() { grep -qF "$1" "$o" || { cat "$o" >&2; fail "$who: step $t: expected '$1'"; }; }
		hasnt_in() { ! grep -qF "$1" "$o" || { cat "$o" >&2; fail "$who: step $t: did not expect '$1'"; }; }
		# The shared root's path: /workspace is a tmpfs of its own, read-only.
		has_in "ws fs: tmpfs ro,"
		has_in " mark-$t "
		has_in "outs: $t "
		hasnt_in "mark-$([ $t = a ] && echo b || echo a)"
		hasnt_in "saw secret"
		hasnt_in "saw host ws"
		hasnt_in "saw host tree"
		hasnt_in "wrote input"
		hasnt_in "wrote root"
		hasnt_in "root changed"
	done
	same in1.txt one
	same in2.txt two
	[ "$(grep '^outs:' kiln-out/a/o)" = "outs: a " ] || fail "$who: step a saw other output folders: $(cat kiln-out/a/o)"
}
each_user scenario
