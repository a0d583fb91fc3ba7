# Hostile Kilnfile and step, issue 10 item 8: an output named
# "x\nvictim out y 0 0" forged a line for another target in
# Kilnfile.lock, which CI commits and `kiln verify` trusts. A Kilnfile's
# output names are refused where they enter; a step that names a file in
# an output folder "x\nvictim out …" (or "x\nfile 755 …", a forged line
# of the cache's action entry) gets it written escaped, on one line, in
# the lock, and never as a line of its own in the cache or the lock.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	victim "$HOME/.profile" "the user's own" 644
	cat >Kilnfile <<'K'
command "victim" { cmd = "echo real > {out}/y", outputs = { "y" } }
K
	own_ws
	ok kb build
	cp Kilnfile.lock lock.before
	cat >>Kilnfile <<'K'
command "forge" { cmd = "touch '{out}/x\nvictim out y 0 0'", outputs = { "x\nvictim out y 0 0" } }
K
	fails 2 kb build
	names "Kilnfile:2" "forge" "control character"
	cmp -s lock.before Kilnfile.lock || fail "as $who: the lock changed: $(cat Kilnfile.lock)"

	# The same through files the step names inside an output folder: one
	# forges a lock line, the other a cache entry's line that adds
	# extra/evil.sh (a blob the cache has: payload's output) to its outputs.
	sed -i '$d' Kilnfile
	cat >>Kilnfile <<'K'
command "payload" { cmd = "echo evil > {out}/e", outputs = { "e" } }
K
	ok kb build payload
	dig=$(sed -n 's/^payload out e \([0-9a-f]*\) 5$/\1/p' Kilnfile.lock)
	[ -n "$dig" ] || fail "no digest for payload's output"
	cp Kilnfile.lock lock.before
	cat >>Kilnfile <<K
command "forge_lock" { cmd = "mkdir {out}/d; echo z > {out}/d/z; touch \"{out}/d/x\\nvictim out y $dig 5\"", outputs = { "d" } }
command "forge_ac" { cmd = "mkdir -p \"{out}/d/w\\nfile 755 $dig 5 extra\"; touch \"{out}/d/w\\nfile 755 $dig 5 extra/evil.sh\"", outputs = { "d" } }
K
	own_ws
	for t in forge_lock forge_ac; do
		out=$(kb build $t 2>&1) || names "target '$t'" "control|newline|name|character"
	done
	grep '^victim ' lock.before | cmp -s - <(grep '^victim ' Kilnfile.lock) ||
		fail "as $who: a step forged a lock line for 'victim': $(cat Kilnfile.lock)"
	if [ -e kiln-out/forge_lock ]; then ok kb status --check; fi
	# No action entry in the cache holds a line the step wrote.
	if grep -rlaE '^(victim |file [0-7]+ [0-9a-f]{32} 5 extra)' "$KILN_CACHE_DIR/ac" 2>/dev/null | grep -q .; then
		fail "as $who: a step forged a line of a cache entry: $(grep -raE '^(victim|file [0-7]+ [0-9a-f]{32} 5 extra)' "$KILN_CACHE_DIR/ac")"
	fi
	# Restored from the cache, forge_ac has only what it made.
	rm -rf kiln-out
	out=$(kb build 2>&1) || true
	[ ! -e kiln-out/forge_ac/extra ] || fail "as $who: a forged cache line installed kiln-out/forge_ac/extra/evil.sh"
	untouched
}
each_user scenario
