# Hostile repository, issue 10 item 5: a cloned repository commits
# .kiln -> ~. kiln wiped ~/tmp (it empties .kiln/tmp) and wrote its lock,
# state, graph and logs into the home folder; as root, .kiln -> / would
# wipe the host's /tmp. The variant: only .kiln/tmp is the link. kiln must
# refuse, naming .kiln, before it writes or deletes anything.
. "$(dirname "$0")/../cli/lib.sh"
. "$top/tests/sandbox/lib.sh"
. "$top/tests/fault/hostile.sh"

scenario() {
	victim "$HOME/tmp/draft.txt" "unsaved work"
	victim "$HOME/state" "the user's file named state"
	cat >Kilnfile <<'K'
command "a" { cmd = "echo a > {out}/o", outputs = { "o" } }
K
	ln -s "$HOME" .kiln
	own_ws
	before=$(snapshot "$HOME")
	for cmd in build status; do
		refused kb $cmd
		names "\.kiln" "link"
		[ "$(snapshot "$HOME")" = "$before" ] || fail "as $who: kiln $cmd changed the home folder: $(diff <(echo "$before") <(snapshot "$HOME"))"
	done
	untouched

	victim "$HOME/tmp/draft.txt" "unsaved work"
	rm .kiln
	mkdir .kiln
	ln -s "$HOME/tmp" .kiln/tmp
	own_ws
	before=$(snapshot "$HOME")
	refused kb build
	names "\.kiln/tmp" "link"
	untouched
	[ "$(snapshot "$HOME")" = "$before" ] || fail "as $who: the home folder changed"
}
each_user scenario
