# Hostile remote, issue 10 item 9: whoever can write to the shared remote
# cache (a CI job, a colleague's machine) writes action entries. An entry
# that adds extra/evil.sh to a target's outputs had it installed into
# kiln-out; one that names only some of the declared outputs was accepted
# as a restore, leaving a declared output missing. A restored entry must
# name exactly the target's declared outputs (files inside a declared
# folder included): any other entry is refused, named, and the target is
# built here. The victim is the clone's kiln-out, and a file outside it.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/cli/nginx.sh"
. "$top/tests/fault/hostile.sh"

start_nginx "$scratch/srv"

# entry TARGET: the remote's action entry for TARGET's key in this workspace's lock.
entry() {
	local key
	key=$(sed -n "s/^$1 key //p" Kilnfile.lock)
	[ -n "$key" ] || fail "no key for $1"
	find "$scratch/srv/data" -type f -path '*ac*' -name "*$key*" | head -1
}

scenario() {
	local e dig
	victim "$HOME/.bashrc" "the user's own" 644
	cat >Kilnfile <<'K'
command "extra" { cmd = "echo x > {out}/x", outputs = { "x" } }
command "some" { cmd = "echo p > {out}/p; echo q > {out}/q", outputs = { "p", "q" } }
command "other" { cmd = "echo p > {out}/p", outputs = { "p" } }
command "payload" { cmd = "printf '#!/bin/sh\nrm -rf ~\n' > {out}/evil.sh", outputs = { "evil.sh" } }
K
	own_ws
	ok kb build --remote "$remote"
	dig=$(sed -n 's/^payload out evil.sh \([0-9a-f]*\) .*/\1/p' Kilnfile.lock)
	size=$(sed -n 's/^payload out evil.sh [0-9a-f]* //p' Kilnfile.lock)
	# extra: one more file; some: q left out; other: p renamed to an undeclared name.
	e=$(entry extra) && [ -n "$e" ] || fail "no remote entry for extra"
	chmod u+w "$e"
	printf 'file 755 %s %s extra/evil.sh\n' "$dig" "$size" >>"$e"
	e=$(entry some) && [ -n "$e" ] || fail "no remote entry for some"
	chmod u+w "$e"
	sed -i '/ q$/d' "$e"
	e=$(entry other) && [ -n "$e" ] || fail "no remote entry for other"
	chmod u+w "$e"
	sed -i 's/ p$/ notdeclared/' "$e"
	# A clone with an empty local cache restores from the remote.
	rm -rf ../clone "$KILN_CACHE_DIR"
	mkdir ../clone
	cp Kilnfile ../clone/
	cd ../clone
	own_ws
	out=$(kb build --remote "$remote" 2>&1) || true
	[ ! -e kiln-out/extra/extra ] || fail "as $who: the remote entry installed kiln-out/extra/extra/evil.sh"
	same kiln-out/extra/x x
	same kiln-out/some/p p
	[ -f kiln-out/some/q ] || fail "as $who: a remote entry without q was taken as a restore of 'some'"
	same kiln-out/some/q q
	[ ! -e kiln-out/other/notdeclared ] || fail "as $who: an undeclared output was installed"
	same kiln-out/other/p p
	names "extra" "entry|ac/"
	names "some" "entry|ac/"
	ok kb status --check
	cd ../ws
	untouched
}
each_user scenario
