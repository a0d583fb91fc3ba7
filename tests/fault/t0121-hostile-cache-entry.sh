# Hostile cache, issue 10 item 9 on the local cache: KILN_CACHE_DIR may be
# shared (a team's NFS folder, a CI runner's cache restored from an
# artifact). An action entry in ac/ that adds a file, leaves a declared
# output out, or names an undeclared one is not a restore of the target:
# it is refused (quarantined or ignored, and named) and the target is
# built here; nothing it names reaches kiln-out.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

# entry TARGET: the local cache's action entry for TARGET's key.
entry() {
	local key
	key=$(sed -n "s/^$1 key //p" Kilnfile.lock)
	[ -n "$key" ] || fail "no key for $1"
	printf '%s\n' "$KILN_CACHE_DIR/ac/${key:0:2}/$key"
}

scenario() {
	local e dig size
	victim "$HOME/.bashrc" "the user's own" 644
	cat >Kilnfile <<'K'
command "extra" { cmd = "echo x > {out}/x", outputs = { "x" } }
command "some" { cmd = "echo p > {out}/p; echo q > {out}/q", outputs = { "p", "q" } }
command "other" { cmd = "echo p > {out}/p", outputs = { "p" } }
command "payload" { cmd = "printf '#!/bin/sh\nrm -rf ~\n' > {out}/evil.sh", outputs = { "evil.sh" } }
K
	own_ws
	ok kb build
	dig=$(sed -n 's/^payload out evil.sh \([0-9a-f]*\) .*/\1/p' Kilnfile.lock)
	size=$(sed -n 's/^payload out evil.sh [0-9a-f]* //p' Kilnfile.lock)
	e=$(entry extra)
	[ -f "$e" ] || fail "no cache entry $e"
	chmod u+w "$e"
	# In path order, as kiln writes entries (one out of order is refused as damaged).
	sed -i "/^flags /a file 755 $dig $size extra/evil.sh" "$e"
	e=$(entry some)
	chmod u+w "$e"
	sed -i '/ q$/d' "$e"
	e=$(entry other)
	chmod u+w "$e"
	sed -i 's/ p$/ notdeclared/' "$e"
	rm -rf kiln-out .kiln
	own_ws
	out=$(kb build 2>&1) || true
	[ ! -e kiln-out/extra/extra ] || fail "as $who: the cache entry installed kiln-out/extra/extra/evil.sh"
	same kiln-out/extra/x x
	[ -f kiln-out/some/q ] || fail "as $who: a cache entry without q was taken as a restore of 'some'"
	same kiln-out/some/q q
	[ ! -e kiln-out/other/notdeclared ] || fail "as $who: an undeclared output was installed"
	same kiln-out/other/p p
	names "extra" "entry|ac/"
	ok kb status --check
	untouched
}
each_user scenario
